"""A reference SMS provider on 127.0.0.1 implementing the protocol of safetrain.accounts.sms (not a mock: a real HTTP
server that checks the key id, timestamps, nonces and signatures, and records every message it accepts)."""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from safetrain.accounts.sms import TEMPLATES, sign

MAX_SKEW_SECONDS = 300


@dataclass
class SmsService:
    key_id: str
    secret: str
    messages: list[dict] = field(default_factory=list)  # {"phone", "template", "params", "message_id"}
    nonces: set[str] = field(default_factory=set)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every request
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _authorised(self, path: str, headers, body: bytes) -> bool:
        timestamp, nonce = headers.get("X-Timestamp", ""), headers.get("X-Nonce", "")
        if headers.get("X-Key-Id") != self.key_id or not timestamp.isdigit() or not nonce:
            return False
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS or nonce in self.nonces:
            return False
        expected = sign(
            self.secret,
            method="POST",
            path=path,
            key_id=self.key_id,
            timestamp=timestamp,
            nonce=nonce,
            body=body,
        )
        if not hmac.compare_digest(expected, headers.get("X-Signature", "")):
            return False
        self.nonces.add(nonce)
        return True

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if not self._authorised(path, headers, body):
            return 401, {"reason": "bad_signature"}
        if path != "/v1/messages":
            return 404, {"reason": "unknown_path"}
        payload = json.loads(body)
        phone, template, params = payload.get("phone"), payload.get("template"), payload.get("params")
        if not (isinstance(phone, str) and len(phone) == 11 and phone.isdigit()):
            return 400, {"reason": "invalid_phone"}
        if (
            template not in TEMPLATES
            or not isinstance(params, dict)
            or set(params) != set(TEMPLATES[template])
        ):
            return 400, {"reason": "invalid_template"}
        message_id = secrets.token_hex(8)
        self.messages.append(
            {"phone": phone, "template": template, "params": params, "message_id": message_id}
        )
        return 200, {"message_id": message_id, "status": "accepted"}

    def start(self) -> SmsService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, data = service.handle(self.path, self.headers, body)
                service.requests.append((self.path, status))
                out = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
