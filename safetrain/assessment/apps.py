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

        panel_register(name="exams", template="assessment/_desk.html", context=exams_panel, order=30)
        guide_step_register(step="exam", done=exam_passed)
