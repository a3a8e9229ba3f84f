from django.urls import path

from safetrain.proctoring import views

app_name = "proctoring"

urlpatterns = [
    path("checks/", views.checks_view, name="checks"),
    path("checks/<int:check_id>/snapshot/", views.snapshot_view, name="snapshot"),
    path("photo/", views.photo_view, name="photo"),
    path("photo/image/", views.photo_image_view, name="photo_image"),
    path("people/<int:user_id>/photo/", views.photo_view, name="person_photo"),
    path("people/<int:user_id>/photo/image/", views.photo_image_view, name="person_photo_image"),
    path("photos/review/", views.photo_review_view, name="photo_review"),
    path("people/<int:user_id>/id-photo/", views.id_photo_view, name="id_photo"),
    path("verify/", views.verify_view, name="verify"),
    path("group/<int:session_id>/", views.group_view, name="group"),
]
