from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "safetrain.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from safetrain.accounts import receivers  # noqa: F401
        from safetrain.accounts.desk import panel_register
        from safetrain.accounts.guide import guide_context

        # The first-visit guide (引导语) heads a new learner's desk until it is closed.
        panel_register(
            name="first_visit_guide",
            template="accounts/_guide.html",
            context=guide_context,
            order=1,
            area="top",
        )
