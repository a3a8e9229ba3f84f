from django.urls import path

from safetrain.records import views

app_name = "records"

urlpatterns = [path("audit/", views.audit_view, name="audit")]
