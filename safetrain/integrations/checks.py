"""System checks of the integrations' configuration (run by `manage.py check`, `migrate` and the deploy)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def supervision_over_https(app_configs, **kwargs):
    from safetrain.integrations.supervision import insecure_url

    if not settings.DEBUG and insecure_url(settings.SUPERVISION_URL):
        return [
            Error(
                "SUPERVISION_URL is not an https:// address.",
                hint="The exchange carries personal data: give the province's HTTPS address.",
                id="safetrain.E101",
            )
        ]
    return []


@register()
def supervision_signature(app_configs, **kwargs):
    if settings.SUPERVISION_SIGNATURE not in ("ed25519", "sm2"):
        return [
            Error(
                f"SUPERVISION_SIGNATURE is {settings.SUPERVISION_SIGNATURE!r}.",
                hint="Use ed25519 or sm2.",
                id="safetrain.E102",
            )
        ]
    return []
