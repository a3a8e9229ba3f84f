from django.urls import path

from safetrain.proctoring import views

app_name = "proctoring"

urlpatterns = [
    path("checks/", views.checks_view, name="checks"),
    path("checks/<int:check_id>/snapshot/", views.snapshot_view, name="snapshot"),
]
