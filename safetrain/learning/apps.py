from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LearningConfig(AppConfig):
    name = "safetrain.learning"
    label = "learning"
    verbose_name = _("Learning")

    def ready(self) -> None:
        from safetrain.learning import desk, desk_study

        desk.register()  # its cards and to-do counts on the desk (首页)
        desk_study.register()  # the learner's study panel (LRN-08)
