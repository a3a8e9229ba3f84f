"""The QR payload of a certificate (CERT-04): compact JSON signed with the platform's Ed25519 key, so anyone holding
the published public key can check a printed certificate offline.

The QR text is the verification URL with the signed token: ``{PUBLIC_BASE_URL}/verify/{number}?s={token}``, where
``token = base64url(payload) + "." + base64url(signature)`` and the signature covers the payload bytes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

MAX_TOKEN = 1024  # a real token is about 400 characters


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def _private_key(
    configured: str, secret_key: str, purpose: bytes = b"certificate signing"
) -> Ed25519PrivateKey:
    if configured.strip().startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(configured.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the configured signing key is not an Ed25519 key")
        return key
    if configured:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(configured))
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"safetrain " + purpose).derive(
        secret_key.encode()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key() -> Ed25519PrivateKey:
    """The certificates' key (CERT_SIGNING_KEY): what the QR codes are signed with."""
    return _private_key(settings.CERT_SIGNING_KEY, settings.SECRET_KEY)


def exchange_private_key() -> Ed25519PrivateKey:
    """The data exchange's key (SUPERVISION_SIGNING_KEY, INT-01), never the certificates' one: the province
    registers its public half, and a key leaked on one side signs nothing on the other."""
    return _private_key(settings.SUPERVISION_SIGNING_KEY, settings.SECRET_KEY, b"supervision exchange")


def exchange_public_key() -> Ed25519PublicKey:
    return exchange_private_key().public_key()


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    key = key or public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey | None = None) -> str:
    raw = (key or public_key()).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def sign_payload(payload: dict[str, Any]) -> str:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(data)}.{_b64(private_key().sign(data))}"


def qr_text(number: str, payload: dict[str, Any]) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/verify/{number}?s={sign_payload(payload)}"


@dataclass
class Checked:
    """What a scanned QR says: the number in the URL, the signed payload, and whether the signature holds."""

    number: str
    payload: dict[str, Any]
    signature_valid: bool
    problem: str = ""


def check_token(token: str, key: Ed25519PublicKey | None = None) -> tuple[dict[str, Any], bool, str]:
    key = key or public_key()
    if len(token) > MAX_TOKEN:
        return {}, False, "malformed"
    try:
        data_part, signature_part = token.split(".")
        data, signature = _unb64(data_part), _unb64(signature_part)
    except (ValueError, binascii.Error):
        return {}, False, "malformed"
    try:
        key.verify(signature, data)  # before parsing: nothing unsigned is ever parsed
        valid = True
    except InvalidSignature:
        valid = False
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}, False, "malformed"
    if not isinstance(payload, dict):
        return {}, False, "malformed"
    return payload, valid, "" if valid else "bad_signature"


def check_qr_text(text: str, key: Ed25519PublicKey | None = None) -> Checked:
    """Check a scanned QR text offline: the signature, and that the URL's number is the signed one."""
    parts = urlsplit(text.strip())
    path = parts.path.rstrip("/").split("/")
    number = path[-1] if len(path) >= 2 and path[-2] == "verify" else ""
    tokens = parse_qs(parts.query).get("s", [])
    if not number or len(tokens) != 1:
        return Checked(number, {}, False, "not_a_certificate_qr")
    payload, valid, problem = check_token(tokens[0], key)
    if valid and payload.get("n") != number:
        return Checked(number, payload, False, "number_mismatch")
    return Checked(number, payload, valid, problem)
