"""Signed checkpoints of the chains' heads, kept outside the database (GB/T 22239 level 3, audit record protection).

A keyed chain stops anyone without AUDIT_CHAIN_KEY from rewriting it; a checkpoint also stops whoever holds the key
(or the whole server): every few minutes (`records.checkpoint`, `manage.py checkpoint_chains`) the head of each
chain (its name, last sequence number and row id, head hash, row count and the time) is signed with the Ed25519
key AUDIT_CHECKPOINT_KEY and written to the default storage (S3 in production) under

    audit-checkpoints/<chain>/<YYYY-MM-DD>/<HHMMSSffffff>-<seq>.json      (UTC)

The verify commands compare each chain with its newest checkpoint: the checkpointed row must still carry the
checkpointed hash, and the chain must not be shorter. A checkpoint whose signature does not verify is an error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

PREFIX = "audit-checkpoints"
VERSION = 1
_FILE = re.compile(r"^(\d{12})-(\d+)")


class CheckpointError(Exception):
    """A checkpoint that cannot be trusted: unreadable, signed by an unknown key, or a signature that fails."""


# Keys ----------------------------------------------------------------------------------------------------------


@functools.cache
def _signing_key(configured: str, secret_key: str) -> Ed25519PrivateKey:
    text = configured.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        if text:
            return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ImproperlyConfigured(
            "AUDIT_CHECKPOINT_KEY must be an Ed25519 private key: 32 random bytes in base64 "
            "(`python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'`) or a PEM key"
        ) from exc
    # Only where settings allow it (DEBUG): a fixed key of this installation, derived from its SECRET_KEY.
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"safetrain audit checkpoints").derive(
        secret_key.encode()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _signing_key(settings.AUDIT_CHECKPOINT_KEY, settings.SECRET_KEY)


def public_key_b64(key: Ed25519PublicKey | None = None) -> str:
    key = key or signing_key().public_key()
    return base64.b64encode(
        key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """The current key's public half and those of AUDIT_CHECKPOINT_PUBLIC_KEYS (earlier keys, after a change), so
    checkpoints signed before a key change still verify."""
    keys = [signing_key().public_key()]
    for text in settings.AUDIT_CHECKPOINT_PUBLIC_KEYS:
        try:
            keys.append(Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True)))
        except (ValueError, binascii.Error) as exc:
            raise ImproperlyConfigured(
                f"AUDIT_CHECKPOINT_PUBLIC_KEYS: {text[:12]}… is not an Ed25519 public key in base64"
            ) from exc
    return {key_id(k): k for k in keys}


# Checkpoints ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    row_id: int
    hash: str
    hash_alg: str
    count: int
    at: dt.datetime
    name: str = ""

    def payload(self) -> dict:
        return {
            "version": VERSION,
            "chain": self.chain,
            "seq": self.seq,
            "id": self.row_id,
            "hash": self.hash,
            "hash_alg": self.hash_alg,
            "count": self.count,
            "at": self.at.astimezone(dt.UTC).isoformat(),
        }

    def describe(self) -> str:
        return f"{self.name} (row {self.seq}, taken {self.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def file_name(checkpoint: Checkpoint) -> str:
    at = checkpoint.at.astimezone(dt.UTC)
    return f"{PREFIX}/{checkpoint.chain}/{at:%Y-%m-%d}/{at:%H%M%S%f}-{checkpoint.seq:012d}.json"


def signed_bytes(checkpoint: Checkpoint) -> bytes:
    key = signing_key()
    payload = checkpoint.payload()
    signature = key.sign(_canonical(payload))
    document = {
        "checkpoint": payload,
        "signature": {
            "alg": "Ed25519",
            "key_id": key_id(key.public_key()),
            "value": base64.b64encode(signature).decode(),
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"


def checkpoint_store(checkpoint: Checkpoint) -> Checkpoint:
    """Sign `checkpoint` and write it to storage; returns it with its storage name."""
    name = default_storage.save(file_name(checkpoint), ContentFile(signed_bytes(checkpoint)))
    return replace(checkpoint, name=name)


def checkpoint_parse(data: bytes, *, name: str, chain: str) -> Checkpoint:
    """A stored checkpoint, its signature checked against the trusted keys."""
    try:
        document = json.loads(data)
        payload = document["checkpoint"]
        signature = document["signature"]
        value = base64.b64decode(signature["value"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise CheckpointError(f"checkpoint {name} cannot be read: {exc}") from None
    key = trusted_keys().get(str(signature.get("key_id")))
    if key is None:
        raise CheckpointError(
            f"checkpoint {name} is signed by an unknown key {signature.get('key_id')!r}: forged, or signed with "
            "a key missing from AUDIT_CHECKPOINT_KEY / AUDIT_CHECKPOINT_PUBLIC_KEYS"
        )
    try:
        key.verify(value, _canonical(payload))
    except InvalidSignature:
        raise CheckpointError(
            f"checkpoint {name}: the signature does not verify (the file was forged or altered)"
        ) from None
    try:
        checkpoint = Checkpoint(
            chain=payload["chain"],
            seq=int(payload["seq"]),
            row_id=int(payload["id"]),
            hash=str(payload["hash"]),
            hash_alg=str(payload["hash_alg"]),
            count=int(payload["count"]),
            at=dt.datetime.fromisoformat(payload["at"]),
            name=name,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {name} is incomplete: {exc}") from None
    if checkpoint.chain != chain:
        raise CheckpointError(f"checkpoint {name} is of chain {checkpoint.chain!r}, kept under {chain!r}")
    return checkpoint


def _listdir(path: str) -> tuple[list[str], list[str]]:
    try:
        directories, files = default_storage.listdir(path)
    except FileNotFoundError:
        return [], []
    return list(directories), list(files)


def _name_time(day: str, file: str) -> dt.datetime | None:
    match = _FILE.match(file)
    if not match or not file.endswith(".json"):
        return None
    try:
        return dt.datetime.strptime(f"{day} {match.group(1)}", "%Y-%m-%d %H%M%S%f").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def checkpoint_latest(chain: str, *, as_of: dt.datetime | None = None) -> Checkpoint | None:
    """The newest checkpoint of `chain` (taken at or before `as_of` when given: a copy restored to that moment holds
    every row such a checkpoint covers). Raises CheckpointError when that checkpoint cannot be trusted: a forged
    newest file is reported, never skipped for an older one."""
    base = f"{PREFIX}/{chain}"
    days, _files = _listdir(base)
    limit = as_of.astimezone(dt.UTC) if as_of else None
    for day in sorted(days, reverse=True):
        if limit is not None and day > f"{limit:%Y-%m-%d}":
            continue
        _dirs, files = _listdir(f"{base}/{day}")
        for file in sorted(files, reverse=True):
            at = _name_time(day, file)
            if at is None or (limit is not None and at > limit):
                continue
            name = f"{base}/{day}/{file}"
            with default_storage.open(name, "rb") as handle:
                checkpoint = checkpoint_parse(handle.read(), name=name, chain=chain)
            if checkpoint.at.astimezone(dt.UTC) != at:
                raise CheckpointError(f"checkpoint {name}: its name does not match its time {checkpoint.at}")
            return checkpoint
    return None
