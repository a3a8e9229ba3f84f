from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "safetrain.records"
    label = "records"
    verbose_name = _("Records and audit trail")

    def ready(self) -> None:
        from safetrain.core.metrics import scrape_gauges_register
        from safetrain.records.metrics import checkpoint_gauges

        scrape_gauges_register(checkpoint_gauges)  # OPS-06: the chains' checkpoints on /metrics
