from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProctoringConfig(AppConfig):
    name = "safetrain.proctoring"
    label = "proctoring"
    verbose_name = _("Identity verification")

    def ready(self) -> None:
        from safetrain.proctoring import desk

        desk.register()  # its cards and to-do counts on the desk (首页)
