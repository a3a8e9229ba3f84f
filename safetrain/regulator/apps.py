from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegulatorConfig(AppConfig):
    name = "safetrain.regulator"
    verbose_name = _("Supervision")

    def ready(self) -> None:
        from safetrain.regulator import signals

        signals.connect()
