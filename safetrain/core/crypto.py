"""Encryption at rest and blind indexes for personal data (ACC-08, GB/T 39786).

Two ciphers, chosen by DATA_CIPHER; every value and file is written with the chosen one and its first key:
- `fernet` (default): Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet, keys in FIELD_ENCRYPTION_KEYS.
  A Fernet token is url-safe base64 whose first byte is its version, 0x80 ("gAAAAA…").
- `sm4`: SM4 (GB/T 32907) in GCM mode (RFC 8998), from `cryptography`, keys in SM4_ENCRYPTION_KEYS (32 hex
  digits each). A token is "sm4:" + url-safe base64 of key id (4 bytes, the start of the key's SM3 digest),
  nonce (12 random bytes), ciphertext and GCM tag (16 bytes); the tag and key id are authenticated too.
Each token names its cipher, so a database holding both kinds reads, and keys rotate: the first key of the list
encrypts, every listed key decrypts, and `manage.py rotate_encryption_keys` re-encrypts rows and files with the
current cipher and key (also the way from fernet to sm4).

Lookups by an encrypted value (an ID number, a phone) go through a keyed blind index: HMAC-SHA256 of the
normalised value under BLIND_INDEX_KEY, which is kept apart from the encryption keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CIPHERS = ("fernet", "sm4")
SM4_TAG = b"sm4:"
_KEY_ID, _NONCE, _GCM_TAG = 4, 12, 16
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]+={0,2}")


class InvalidCiphertext(ValueError):
    """Not a token of ours, altered, or encrypted with a key that is no longer configured."""


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), 32 bytes."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


# Fernet -------------------------------------------------------------------------------------------------------


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


# SM4-GCM ------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _sm4_keys(keys: tuple[str, ...]) -> tuple[tuple[bytes, bytes], ...]:
    """(key id, key) of each configured SM4 key, in order."""
    parsed = []
    for text in keys:
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            key = b""
        if len(key) != 16:
            raise ImproperlyConfigured(
                "SM4_ENCRYPTION_KEYS must hold SM4 keys of 16 bytes as 32 hex digits; "
                "generate one with `python -c 'import secrets; print(secrets.token_hex(16))'`"
            )
        parsed.append((sm3(key)[:_KEY_ID], key))
    return tuple(parsed)


def sm4_keys() -> tuple[tuple[bytes, bytes], ...]:
    keys = _sm4_keys(tuple(settings.SM4_ENCRYPTION_KEYS))
    if not keys:
        raise ImproperlyConfigured("SM4_ENCRYPTION_KEYS is not set: SM4 values cannot be written or read.")
    return keys


def _sm4_encrypt(value: bytes) -> bytes:
    key_id, key = sm4_keys()[0]
    nonce = os.urandom(_NONCE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(SM4_TAG + key_id)
    sealed = encryptor.update(value) + encryptor.finalize() + encryptor.tag
    return SM4_TAG + base64.urlsafe_b64encode(key_id + nonce + sealed)


def _sm4_decrypt(token: bytes) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(token[len(SM4_TAG) :])
    except (binascii.Error, ValueError) as exc:
        raise InvalidCiphertext("not an SM4 token") from exc
    if len(raw) < _KEY_ID + _NONCE + _GCM_TAG:
        raise InvalidCiphertext("not an SM4 token")
    key_id, nonce = raw[:_KEY_ID], raw[_KEY_ID : _KEY_ID + _NONCE]
    sealed, tag = raw[_KEY_ID + _NONCE : -_GCM_TAG], raw[-_GCM_TAG:]
    for candidate_id, key in sm4_keys():
        if candidate_id != key_id:
            continue
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(SM4_TAG + key_id)
        try:
            return decryptor.update(sealed) + decryptor.finalize()
        except InvalidTag:
            continue  # another key with the same id (1 in 2**32), or an altered token
    raise InvalidCiphertext("the SM4 token does not decrypt with SM4_ENCRYPTION_KEYS")


# Either cipher ------------------------------------------------------------------------------------------------


def data_cipher() -> str:
    cipher = settings.DATA_CIPHER
    if cipher not in CIPHERS:
        raise ImproperlyConfigured(f"DATA_CIPHER must be one of {', '.join(CIPHERS)}, not {cipher!r}.")
    return cipher


def cipher_of(token: str | bytes) -> str | None:
    """The cipher a token was written with, from its own tag; None when it is no token of ours (plain text)."""
    raw = token.encode() if isinstance(token, str) else token
    if raw.startswith(SM4_TAG):
        return "sm4"
    # Fernet: version byte 0x80 (so "g" first), 57 bytes at the least, url-safe base64 throughout.
    return "fernet" if raw[:1] == b"g" and len(raw) >= 76 and _BASE64URL.fullmatch(raw) else None


def encrypt_bytes(value: bytes) -> bytes:
    if data_cipher() == "sm4":
        return _sm4_encrypt(value)
    return fernet().encrypt(value)


def decrypt_bytes(token: bytes) -> bytes:
    """The plain value of a token of either cipher. Raises InvalidCiphertext when it does not decrypt."""
    if token.startswith(SM4_TAG):
        return _sm4_decrypt(token)
    try:
        return fernet().decrypt(token)
    except InvalidToken as exc:
        raise InvalidCiphertext("the token does not decrypt with FIELD_ENCRYPTION_KEYS") from exc


def encrypt_str(value: str) -> str:
    return encrypt_bytes(value.encode()).decode()


def decrypt_str(token: str) -> str:
    try:
        return decrypt_bytes(token.encode()).decode()
    except InvalidCiphertext as exc:
        raise ImproperlyConfigured(
            "An encrypted value cannot be decrypted with FIELD_ENCRYPTION_KEYS or SM4_ENCRYPTION_KEYS: "
            "a key in use was removed."
        ) from exc


def token_is_current(token: str | bytes) -> bool:
    """Written with the current cipher and its first key (nothing for a rotation to do)."""
    raw = token.encode() if isinstance(token, str) else token
    if data_cipher() == "sm4":
        if not raw.startswith(SM4_TAG):
            return False
        try:
            return base64.urlsafe_b64decode(raw[len(SM4_TAG) :])[:_KEY_ID] == sm4_keys()[0][0]
        except (binascii.Error, ValueError):
            return False
    if cipher_of(raw) != "fernet":
        return False
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(raw)
    except InvalidToken:
        return False
    return True


def rotate_bytes(token: bytes) -> bytes:
    """The same value encrypted with the current cipher and first key (the token itself when it already is)."""
    if token_is_current(token):
        return token
    return encrypt_bytes(decrypt_bytes(token))


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the current cipher and first key (a no-op in meaning)."""
    return rotate_bytes(token.encode()).decode()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC of a normalised value; `purpose` separates indexes so equal values do not link across fields."""
    key = hashlib.sha256(f"{purpose}:{settings.BLIND_INDEX_KEY}".encode()).digest()
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """Digest under which a bearer secret (session key, API token) is stored: never the secret itself."""
    return hashlib.sha256(token.encode()).hexdigest()
