from django.urls import path

from safetrain.integrations import views

app_name = "ops"

urlpatterns = [
    path("alerts/webhook", views.alert_webhook, name="alert_webhook"),
    path("alarms/", views.alarms_view, name="alarms"),
    path("alarms/<int:alarm_id>/acknowledge", views.alarm_acknowledge_view, name="alarm_acknowledge"),
    path("backups/", views.backups_view, name="backups"),
]
