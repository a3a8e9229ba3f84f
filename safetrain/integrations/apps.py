from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "safetrain.integrations"
    verbose_name = "Integrations"
