from django.urls import path

from safetrain.records import views

app_name = "records"

urlpatterns = [
    path("audit/", views.audit_view, name="audit"),
    path("archive/", views.my_archive_view, name="my_archive"),
    path("archive/<int:user_id>/", views.archive_view, name="archive"),
]
