"""The SMS provider slot (短信): text messages to a mobile phone, e.g. the code for resetting a forgotten password.

Protocol (JSON over HTTPS, signed like the identity-service slot in safetrain.proctoring.realname):

    POST {SMS_SERVICE_URL}/v1/messages
         {"phone": "13800138000", "template": "password_reset", "params": {"code": "123456", "minutes": "10"}}
        200 {"message_id": "...", "status": "accepted"}     4xx/5xx {"reason": "..."}

The provider keeps the text of each template (signed with the platform's name, as Chinese carriers require); the
platform sends only the template's name and its parameters. Every request carries the headers X-Key-Id
(SMS_SERVICE_KEY_ID), X-Timestamp (Unix seconds), X-Nonce (random, single use) and X-Signature = hex
HMAC-SHA256(SMS_SERVICE_SECRET, the lines method, path, key id, timestamp, nonce and the hex SHA-256 of the body,
joined by newlines). Only https is used (plain http only to 127.0.0.1 or localhost). The provider refuses stale
timestamps (more than 300 s off), replayed nonces and bad signatures (401).

The reference server in the test suite (safetrain/accounts/tests/sms_service.py) implements this protocol.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Protocol

import httpx
from django.conf import settings

# Templates the platform sends, with the parameters each one takes (the provider holds the Chinese text).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "password_reset": ("code", "minutes"),  # 您正在重置密码，验证码 {code}，{minutes} 分钟内有效。
    "phone_bind": ("code", "minutes"),  # 您正在绑定手机号，验证码 {code}，{minutes} 分钟内有效。
}


class SmsUnavailable(Exception):
    """The message could not be handed to the provider (not configured, unreachable, refused)."""


class SmsProvider(Protocol):
    def send(self, *, phone: str, template: str, params: dict[str, str]) -> str:
        """Hand one message to the provider; returns the provider's message id or raises SmsUnavailable."""


def sign(secret: str, *, method: str, path: str, key_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = "\n".join([method, path, key_id, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _local(url: str) -> bool:
    return httpx.URL(url).host in {"127.0.0.1", "localhost", "::1"}


class HttpSmsProvider:
    """Used when SMS_SERVICE_URL is set, with SMS_SERVICE_KEY_ID, SMS_SERVICE_SECRET (and
    SMS_SERVICE_TIMEOUT_SECONDS). Settings are read on every call: a key rotation applies without a restart."""

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> str:
        base = settings.SMS_SERVICE_URL.rstrip("/")
        key_id, secret = settings.SMS_SERVICE_KEY_ID, settings.SMS_SERVICE_SECRET
        if not (base and key_id and secret):
            raise SmsUnavailable("SMS_SERVICE_URL, SMS_SERVICE_KEY_ID and SMS_SERVICE_SECRET must be set")
        if not base.startswith("https://") and not _local(base):
            raise SmsUnavailable("SMS_SERVICE_URL must use https")
        path = "/v1/messages"
        body = json.dumps(
            {"phone": phone, "template": template, "params": params},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        full_path = httpx.URL(f"{base}{path}").raw_path.decode()
        headers = {
            "Content-Type": "application/json",
            "X-Key-Id": key_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": sign(
                secret,
                method="POST",
                path=full_path,
                key_id=key_id,
                timestamp=timestamp,
                nonce=nonce,
                body=body,
            ),
        }
        try:
            response = httpx.post(
                f"{base}{path}", content=body, headers=headers, timeout=settings.SMS_SERVICE_TIMEOUT_SECONDS
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmsUnavailable(str(exc)[:200]) from exc
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("message_id"):
            reason = data.get("reason", "") if isinstance(data, dict) else ""
            raise SmsUnavailable(f"the provider answered {response.status_code} {reason}"[:200])
        return str(data["message_id"])[:100]


def sms_provider() -> SmsProvider | None:
    """The configured provider, or None: then nothing that needs an SMS is offered."""
    return HttpSmsProvider() if settings.SMS_SERVICE_URL else None


def sms_available() -> bool:
    return sms_provider() is not None


def sms_send(phone: str, template: str, params: dict[str, str]) -> str:
    """Send a templated message to a phone (11 digits); returns the provider's message id.

    Raises SmsUnavailable when no provider is configured or it refused; never logs the phone or the parameters.
    """
    if template not in TEMPLATES or set(params) != set(TEMPLATES[template]):
        raise ValueError(f"unknown SMS template or parameters: {template}")
    provider = sms_provider()
    if provider is None:
        raise SmsUnavailable("no SMS provider is configured")
    return provider.send(phone=phone, template=template, params={k: str(v) for k, v in params.items()})
