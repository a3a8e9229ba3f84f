from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "safetrain.integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from safetrain.integrations import checks  # noqa: F401  (registers them)
