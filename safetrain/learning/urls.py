from django.urls import path

from safetrain.learning import offline, views

app_name = "learning"

urlpatterns = [
    path("learn/", views.my_programmes_view, name="my_programmes"),
    path("learn/offline/", offline.offline_sessions_view, name="offline_sessions"),
    path("learn/review/", views.review_queue_view, name="review_queue"),
    path("courses/", views.catalogue_view, name="catalogue"),
    path("courses/<str:code>/", views.course_view, name="course"),
    path("courses/<str:code>/rate/", views.course_rate_view, name="course_rate"),
    path("courses/<str:code>/ask/", views.course_ask_view, name="course_ask"),
    path("courses/<str:code>/lessons/<int:lesson_id>/", views.lesson_view, name="lesson"),
    path("courses/<str:code>/lessons/<int:lesson_id>/quiz/", views.quiz_view, name="quiz"),
    path(
        "courses/<str:code>/lessons/<int:lesson_id>/document/",
        views.lesson_document_view,
        name="lesson_document",
    ),
    path("courses/<str:code>/materials/<int:material_id>/", views.material_view, name="material"),
    path("media/videos/<uuid:video_uuid>/<path:path>", views.video_media_view, name="video_media"),
]
