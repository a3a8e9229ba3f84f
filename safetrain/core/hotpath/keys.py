"""Page keys: the secret a page sends in a header with each hot-path request (heartbeats, exam answers).

A key is an HMAC of what it opens (its purpose, the object's id) and of the sign-in that opened the page, under the
site's SECRET_KEY (or one of SECRET_KEY_FALLBACKS while keys rotate): nothing is stored, a key works for that one
object and that one sign-in, and no other site can send it (a custom header), so there is no CSRF to check.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "safetrain.core.hotpath.keys"


def _key(purpose: str, object_id: int, signin_id: int, secret: str | None = None) -> str:
    return salted_hmac(
        _SALT, f"{purpose}:{object_id}:{signin_id}", secret=secret, algorithm="sha256"
    ).hexdigest()


def page_key(purpose: str, object_id: int, signin_id: int) -> str:
    return _key(purpose, object_id, signin_id)


def page_key_matches(key: str, purpose: str, object_id: int, signin_id: int | None) -> bool:
    if not key or signin_id is None:
        return False
    return any(
        constant_time_compare(key, _key(purpose, object_id, signin_id, secret))
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )
