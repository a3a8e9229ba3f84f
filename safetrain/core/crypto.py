"""Encryption at rest and blind indexes for personal data (ACC-08).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) through MultiFernet, so
keys rotate: the first key of FIELD_ENCRYPTION_KEYS encrypts, all of them decrypt. Lookups by an encrypted
value (an ID number, a phone) go through a keyed blind index: HMAC-SHA256 of the normalised value under
BLIND_INDEX_KEY, which is kept apart from the encryption keys.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:  # a malformed key: say which setting is wrong, never start with it
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64 bytes); "
            "generate one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_str(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_str(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An encrypted value cannot be decrypted with FIELD_ENCRYPTION_KEYS: a key in use was removed."
        ) from exc


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the current first key (a no-op in meaning)."""
    return fernet().rotate(token.encode()).decode()


def encrypt_bytes(value: bytes) -> bytes:
    return fernet().encrypt(value)


def decrypt_bytes(token: bytes) -> bytes:
    return fernet().decrypt(token)


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC of a normalised value; `purpose` separates indexes so equal values do not link across fields."""
    key = hashlib.sha256(f"{purpose}:{settings.BLIND_INDEX_KEY}".encode()).digest()
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """Digest under which a bearer secret (session key, API token) is stored: never the secret itself."""
    return hashlib.sha256(token.encode()).hexdigest()
