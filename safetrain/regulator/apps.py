from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RegulatorConfig(AppConfig):
    name = "safetrain.regulator"
    verbose_name = _("Supervision")

    def ready(self) -> None:
        from safetrain.regulator import counters, desk, signals

        signals.connect()
        desk.register()  # the survey invitation and complaints to handle on the desk (首页)
        # An upgrade that brings the statistics cube fills it from the records already there.
        post_migrate.connect(counters.fill_if_empty, sender=self, dispatch_uid="regulator.fill_statistics")
