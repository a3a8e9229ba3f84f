"""System checks of the data-at-rest keys (run by `manage.py check`, `migrate` and the deploy): a malformed key, or
SM4 chosen where the crypto library lacks SM4-GCM, stops the deploy instead of the first encrypted write."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def encryption_keys(app_configs, **kwargs):
    from safetrain.core import crypto

    errors = []
    try:
        crypto.fernet()
        if settings.DATA_CIPHER == "sm4" or settings.SM4_ENCRYPTION_KEYS:
            crypto.decrypt_bytes(crypto._sm4_encrypt(b"check"))  # the keys parse and SM4-GCM is available
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="safetrain.E001"))
    except Exception as exc:  # UnsupportedAlgorithm: a cryptography/OpenSSL build without SM4
        errors.append(
            Error(
                f"SM4-GCM is not available: {exc}",
                hint="Install the `cryptography` wheel (its OpenSSL has SM4) or set DATA_CIPHER=fernet.",
                id="safetrain.E002",
            )
        )
    return errors
