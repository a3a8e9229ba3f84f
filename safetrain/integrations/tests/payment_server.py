"""A reference server of the payment gateway's protocol (safetrain.integrations.payments) for the tests: a real
HTTP server on 127.0.0.1 that checks every request's signature, keeps payments in memory and signs its answers.
`pay(order_number)` is the payer scanning the code and paying: the payment turns paid and the signed notification
the gateway would send is returned (body, signature) for the test to deliver."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from safetrain.integrations.payments import sign


@dataclass
class GatewayData:
    merchant_id: str = "ST-TEST"
    secret: str = "test-payment-secret"
    payments: dict[str, dict] = field(default_factory=dict)  # order_number -> payment
    requests: list[str] = field(default_factory=list)
    fail: bool = False  # answer 500 to everything
    forge_answers: bool = False  # sign answers with a wrong key

    def body(self, payload: dict) -> bytes:
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    def pay(self, order_number: str, amount: Decimal | None = None) -> tuple[bytes, str]:
        payment = self.payments[order_number]
        payment["status"] = "paid"
        payment["paid_at"] = "2026-12-01T10:00:00+08:00"
        notice = dict(payment)
        if amount is not None:
            notice["amount"] = f"{amount:.2f}"
        body = self.body(
            {k: notice[k] for k in ("order_number", "payment_id", "amount", "status", "paid_at")}
        )
        return body, sign(self.secret, body)


def start(data: GatewayData) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, payload: dict) -> None:
            body = data.body(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Signature", sign("forged" if data.forge_answers else data.secret, body))
            self.end_headers()
            self.wfile.write(body)

        def _signed(self, body: bytes) -> bool:
            return self.headers.get("X-Signature", "") == sign(data.secret, body)

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data.requests.append(f"POST {self.path}")
            if data.fail:
                return self._send(500, {"error": "internal"})
            if not self._signed(body):
                return self._send(401, {"error": "bad signature"})
            request = json.loads(body)
            if urlparse(self.path).path != "/v1/payments" or request.get("merchant_id") != data.merchant_id:
                return self._send(404, {"error": "unknown"})
            order = request["order_number"]
            existing = data.payments.get(order)
            if existing is None:
                existing = data.payments[order] = {
                    "order_number": order,
                    "payment_id": "P" + secrets.token_hex(8),
                    "amount": request["amount"],
                    "subject": request["subject"],
                    "notify_url": request["notify_url"],
                    "status": "created",
                    "paid_at": "",
                }
            return self._send(
                200,
                {
                    "payment_id": existing["payment_id"],
                    "pay_url": f"https://pay.example.cn/qr/{existing['payment_id']}",
                    "status": existing["status"],
                },
            )

        def do_GET(self):  # noqa: N802
            data.requests.append(f"GET {self.path}")
            if data.fail:
                return self._send(500, {"error": "internal"})
            if not self._signed(b""):
                return self._send(401, {"error": "bad signature"})
            url = urlparse(self.path)
            order = url.path.removeprefix("/v1/payments/")
            if parse_qs(url.query).get("merchant_id") != [data.merchant_id] or order not in data.payments:
                return self._send(404, {"error": "unknown"})
            payment = data.payments[order]
            return self._send(
                200, {k: payment[k] for k in ("order_number", "payment_id", "amount", "status", "paid_at")}
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
