from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProctoringConfig(AppConfig):
    name = "safetrain.proctoring"
    label = "proctoring"
    verbose_name = _("Identity verification")
