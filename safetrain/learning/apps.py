from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LearningConfig(AppConfig):
    name = "safetrain.learning"
    label = "learning"
    verbose_name = _("Learning")

    def ready(self) -> None:
        from safetrain.core.hotpath.dispatch import route_register
        from safetrain.learning import desk, desk_study, hotpath

        desk.register()  # its cards and to-do counts on the desk (首页)
        desk_study.register()  # the learner's study panel (LRN-08)
        # Heartbeats with the page's key, answered before the page stack (learning.hotpath).
        route_register(
            name="heartbeat",
            method="POST",
            pattern=hotpath.PATTERN,
            key_header="HTTP_X_STUDY_KEY",
            handler=hotpath.heartbeat_hot,
        )
