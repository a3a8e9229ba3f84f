"""Payment gateway for scan-to-pay (扫码付费, ENR-02), behind an interface.

`PaymentGateway` is what the fees need; `HttpPaymentGateway` speaks a signed HTTP/JSON protocol of the kind the
aggregating gateways (云闪付 / 支付宝 / 微信 acquirers) offer:

    POST {base}/v1/payments          {"merchant_id", "order_number", "amount": "800.00", "subject", "notify_url"}
        -> {"payment_id", "pay_url", "status": "created"}
    GET  {base}/v1/payments/{order_number}?merchant_id=…
        -> {"order_number", "payment_id", "amount", "status": "created" | "paid" | "closed", "paid_at"}
    the gateway's notification to notify_url (POST, JSON): {"order_number", "payment_id", "amount", "status",
        "paid_at"}

Every request and answer body is signed: header `X-Signature` = hex HMAC-SHA256 of the exact body bytes with the
merchant secret (`PAYMENT_SECRET`). A notification whose signature does not verify is refused; amounts are decimal
strings with two places, never floats. Failures raise `PaymentUnavailable` with a message in Chinese.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError


class PaymentUnavailable(DomainError):
    status_code = 502


@dataclass(frozen=True)
class PaymentIntent:
    payment_id: str
    pay_url: str


@dataclass(frozen=True)
class PaymentStatus:
    order_number: str
    payment_id: str
    amount: Decimal
    status: str  # created, paid, closed
    paid_at: str = ""


class PaymentGateway(Protocol):
    def create(
        self, *, order_number: str, amount: Decimal, subject: str, notify_url: str
    ) -> PaymentIntent: ...

    def query(self, order_number: str) -> PaymentStatus: ...

    def verify_notification(self, body: bytes, signature: str) -> PaymentStatus: ...


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _status(data: object) -> PaymentStatus:
    try:
        if not isinstance(data, dict):
            raise TypeError
        amount = Decimal(str(data["amount"]))
        if not amount.is_finite():
            raise InvalidOperation
        return PaymentStatus(
            order_number=str(data["order_number"]),
            payment_id=str(data["payment_id"]),
            amount=amount,
            status=str(data["status"]),
            paid_at=str(data.get("paid_at") or ""),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise PaymentUnavailable(
            "payment_malformed", _("The payment gateway sent an answer that cannot be read.")
        ) from error


class HttpPaymentGateway:
    def __init__(self, base_url: str, merchant_id: str, secret: str, timeout: float = 10.0) -> None:
        if not base_url or not secret:
            raise PaymentUnavailable(
                "payment_not_configured",
                _("Scan-to-pay is not available at the moment: please pay by bank transfer."),
            )
        self.merchant_id = merchant_id
        self.secret = secret
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def _answer(self, response: httpx.Response) -> dict:
        if response.status_code != 200:
            raise PaymentUnavailable(
                "payment_error",
                _("The payment gateway answered with an error (HTTP %(status)s). Please try again later.")
                % {"status": response.status_code},
            )
        if not hmac.compare_digest(
            sign(self.secret, response.content), response.headers.get("X-Signature", "")
        ):
            raise PaymentUnavailable(
                "payment_bad_signature",
                _("The payment gateway's answer is not signed correctly; it was ignored."),
            )
        try:
            data = json.loads(response.content)
        except ValueError as error:
            raise PaymentUnavailable(
                "payment_malformed", _("The payment gateway sent an answer that cannot be read.")
            ) from error
        if not isinstance(data, dict):
            raise PaymentUnavailable(
                "payment_malformed", _("The payment gateway sent an answer that cannot be read.")
            )
        return data

    def _call(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> dict:
        content = json.dumps(body, ensure_ascii=False, sort_keys=True).encode() if body is not None else b""
        try:
            response = self.client.request(
                method,
                path,
                content=content or None,
                params=params,
                headers={"X-Signature": sign(self.secret, content), "Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            raise PaymentUnavailable(
                "payment_unreachable",
                _("The payment gateway did not answer in time.")
                if isinstance(error, httpx.TimeoutException)
                else _(
                    "The payment gateway cannot be reached. Please try again later or pay by bank transfer."
                ),
            ) from error
        return self._answer(response)

    def create(self, *, order_number: str, amount: Decimal, subject: str, notify_url: str) -> PaymentIntent:
        data = self._call(
            "POST",
            "/v1/payments",
            {
                "merchant_id": self.merchant_id,
                "order_number": order_number,
                "amount": f"{amount:.2f}",
                "subject": subject,
                "notify_url": notify_url,
            },
        )
        try:
            return PaymentIntent(payment_id=str(data["payment_id"]), pay_url=str(data["pay_url"]))
        except KeyError as error:
            raise PaymentUnavailable(
                "payment_malformed", _("The payment gateway sent an answer that cannot be read.")
            ) from error

    def query(self, order_number: str) -> PaymentStatus:
        return _status(
            self._call("GET", f"/v1/payments/{order_number}", params={"merchant_id": self.merchant_id})
        )

    def verify_notification(self, body: bytes, signature: str) -> PaymentStatus:
        if not hmac.compare_digest(sign(self.secret, body), signature or ""):
            raise PaymentUnavailable(
                "payment_bad_signature",
                _("The payment notification is not signed correctly; it was ignored."),
            )
        try:
            data = json.loads(body)
        except ValueError as error:
            raise PaymentUnavailable(
                "payment_malformed", _("The payment gateway sent an answer that cannot be read.")
            ) from error
        return _status(data)


def gateway() -> PaymentGateway:
    return HttpPaymentGateway(
        settings.PAYMENT_GATEWAY_URL,
        settings.PAYMENT_MERCHANT_ID,
        settings.PAYMENT_SECRET,
        timeout=settings.PAYMENT_TIMEOUT_SECONDS,
    )


def gateway_configured() -> bool:
    return bool(settings.PAYMENT_GATEWAY_URL and settings.PAYMENT_SECRET)
