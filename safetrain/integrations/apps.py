from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "safetrain.integrations"
    verbose_name = _("Connected systems")

    def ready(self) -> None:
        from safetrain.core.metrics import scrape_gauges_register
        from safetrain.integrations import checks  # noqa: F401  (registers them)
        from safetrain.integrations.backup_status import backup_gauges

        scrape_gauges_register(backup_gauges)  # OPS-03: the backups' and restore drills' gauges on /metrics
