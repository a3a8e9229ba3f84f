from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "safetrain.core"
    label = "core"

    def ready(self) -> None:
        from safetrain.core import checks  # noqa: F401  (registers them)
