from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "safetrain.core"
    label = "core"
    verbose_name = _("Platform basics")

    def ready(self) -> None:
        from safetrain.core import checks  # noqa: F401  (registers them)
