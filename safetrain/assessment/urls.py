from django.urls import path

from safetrain.assessment import views

app_name = "assessment"

urlpatterns = [
    path("questions/", views.bank_view, name="bank"),
    path("questions/import/", views.bank_import_view, name="bank_import"),
    path("questions/export/", views.bank_export_view, name="bank_export"),
    path("questions/template/", views.bank_template_view, name="bank_template"),
    path("exams/", views.my_exams_view, name="my_exams"),
    path("wrong/", views.wrong_book_view, name="wrong_book"),
    path("exams/<slug:code>/start/", views.exam_start_view, name="start"),
    path("attempts/<int:attempt_id>/", views.attempt_view, name="attempt"),
    path("attempts/<int:attempt_id>/result/", views.result_view, name="result"),
    path(
        "attempts/<int:attempt_id>/images/<int:question_id>/",
        views.question_image_view,
        name="question_image",
    ),
]
