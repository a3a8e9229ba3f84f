from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "safetrain.integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from safetrain.core.metrics import scrape_gauges_register
        from safetrain.integrations import checks  # noqa: F401  (registers them)
        from safetrain.integrations.backup_status import backup_gauges

        scrape_gauges_register(backup_gauges)  # OPS-03: the backups' and restore drills' gauges on /metrics
