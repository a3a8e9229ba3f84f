from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnterpriseConfig(AppConfig):
    name = "safetrain.enterprise"
    label = "enterprise"
    verbose_name = _("Enterprises and projects")

    def ready(self) -> None:
        from safetrain.enterprise import desk

        desk.register()  # its cards and to-do counts on the desk (首页)
