from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentConfig(AppConfig):
    name = "safetrain.assessment"
    label = "assessment"
    verbose_name = _("Exams")

    def ready(self) -> None:
        from safetrain.accounts.desk import panel_register
        from safetrain.accounts.guide import guide_step_register
        from safetrain.assessment.desk import exam_passed, exams_panel
        from safetrain.assessment.hotpath import exam_answer
        from safetrain.core.hotpath.dispatch import route_register

        panel_register(name="exams", template="assessment/_desk.html", context=exams_panel, order=30)
        guide_step_register(step="exam", done=exam_passed)
        # Exam answers with the paper's key are answered before the page stack (assessment.hotpath).
        route_register(
            name="exam_answer",
            method="PUT",
            pattern=r"/api/v1/attempts/(\d{1,18})/answers/(\d{1,18})",
            key_header="HTTP_X_EXAM_KEY",
            handler=exam_answer,
        )
