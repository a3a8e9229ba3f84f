"""Hashes of the append-only chains (audit trail, record seals): keyed, with SHA-256 or SM3.

Every chained row carries the name of the algorithm its hash was made with, so one chain can hold rows of
several and change algorithm between two rows:

- ``sha256``: the plain SHA-256 of the row's text. The chains were built with it before they were keyed; it is
  only ever verified, never written again (anyone with database access could recompute it).
- ``hmac-sha256`` / ``hmac-sm3``: HMAC of the row's text under AUDIT_CHAIN_KEY, a key kept outside the database,
  so a rewritten row cannot be given a matching hash without it. ``CHAIN_HASH=sm3`` writes the SM3 one
  (GB/T 32905, the hash GB/T 39786 asks for where commercial cryptography is required).

SM3 and HMAC-SM3 come from `cryptography` (OpenSSL's implementation, the same library as every other primitive of
the platform); its test checks the standard's example values against the `gmssl` package's independent SM3.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

LEGACY = "sha256"
HMAC_SHA256 = "hmac-sha256"
HMAC_SM3 = "hmac-sm3"
KEYED = (HMAC_SHA256, HMAC_SM3)
ALGORITHMS = (LEGACY, *KEYED)
# CHAIN_HASH names the digest; new rows are always keyed with it.
_WRITTEN = {"sha256": HMAC_SHA256, "sm3": HMAC_SM3}


class Digest(Protocol):
    def update(self, data: bytes) -> None: ...

    def hexdigest(self) -> str: ...


class _Hash:
    """hashlib's shape around `cryptography`'s Hash, so SHA-256 and SM3 digests are used the same way."""

    def __init__(self, algorithm: hashes.HashAlgorithm) -> None:
        self._hash = hashes.Hash(algorithm)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.finalize().hex()


def _algorithm(name: str) -> hashes.HashAlgorithm:
    if name == "sha256":
        return hashes.SHA256()
    if name == "sm3":
        return hashes.SM3()
    raise ValueError(f"unknown digest {name!r}")


def digest_name(alg: str) -> str:
    """The plain digest behind a row algorithm: what a seal's digest over its records is made with."""
    if alg in (LEGACY, HMAC_SHA256):
        return "sha256"
    if alg == HMAC_SM3:
        return "sm3"
    raise ValueError(f"unknown chain hash algorithm {alg!r}")


def new_digest(name: str) -> Digest:
    return _Hash(_algorithm(name))


def sm3_hex(data: bytes) -> str:
    digest = new_digest("sm3")
    digest.update(data)
    return digest.hexdigest()


def hmac_hex(name: str, key: bytes, data: bytes) -> str:
    mac = hmac.HMAC(key, _algorithm(name))
    mac.update(data)
    return mac.finalize().hex()


def written_alg() -> str:
    """The algorithm new rows are hashed with (CHAIN_HASH)."""
    try:
        return _WRITTEN[settings.CHAIN_HASH]
    except KeyError:
        raise ImproperlyConfigured("CHAIN_HASH must be sha256 or sm3") from None


@functools.cache
def _key(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    # Only where settings allow it (DEBUG): a fixed key of this installation, derived from its SECRET_KEY.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"safetrain audit chain").derive(
        secret_key.encode()
    )


def chain_key() -> bytes:
    return _key(settings.AUDIT_CHAIN_KEY, settings.SECRET_KEY)


def plain(value: Any) -> Any:
    """A field value as the chain text holds it: times in UTC ISO form, the rest as JSON has it."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def chain_text(*, chain: str, alg: str, seq: int, values: list[Any], prev_hash: str) -> str:
    """The exact text a row's hash covers. Unkeyed rows keep the text they were hashed with; keyed rows also name
    their chain and algorithm, so a row cannot be passed off as one of another chain or algorithm."""
    items: list[Any] = [seq, *(plain(v) for v in values), prev_hash]
    if alg != LEGACY:
        items = [chain, alg, *items]
    return json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(alg: str, text: str) -> str:
    data = text.encode()
    if alg == LEGACY:
        digest = new_digest("sha256")
        digest.update(data)
        return digest.hexdigest()
    return hmac_hex(digest_name(alg), chain_key(), data)
