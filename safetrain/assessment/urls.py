from django.urls import path

from safetrain.assessment import views

app_name = "assessment"

urlpatterns = [
    path("questions/", views.bank_view, name="bank"),
    path("questions/import/", views.bank_import_view, name="bank_import"),
    path("questions/export/", views.bank_export_view, name="bank_export"),
    path("questions/<slug:code>/rule/", views.paper_rule_view, name="paper_rule"),
    path("questions/template/", views.bank_template_view, name="bank_template"),
    path("offline-tests/", views.offline_tests_view, name="offline_tests"),
    path("offline-tests/<int:paper_id>/", views.offline_test_view, name="offline_test"),
    path("offline-tests/<int:paper_id>/paper.pdf", views.offline_paper_pdf_view, name="offline_paper_pdf"),
    path("offline-tests/<int:paper_id>/key.pdf", views.offline_key_pdf_view, name="offline_key_pdf"),
    path(
        "offline-tests/<int:paper_id>/<slug:kind>/state/",
        views.offline_pdf_state_view,
        name="offline_pdf_state",
    ),
    path("exams/", views.my_exams_view, name="my_exams"),
    path("identity-checks/", views.identity_checks_view, name="identity_checks"),
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
