from django.urls import path

from safetrain.catalog import views

app_name = "catalog"

urlpatterns = [
    path("videos/", views.videos_view, name="videos"),
    path("videos/<int:video_id>/status/", views.video_status_view, name="video_status"),
    path("videos/<int:video_id>/retry/", views.video_retry_view, name="video_retry"),
    path("review/", views.review_view, name="review"),
]
