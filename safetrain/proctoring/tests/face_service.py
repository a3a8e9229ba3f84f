"""A reference face service on 127.0.0.1 implementing the protocol of safetrain.proctoring.remote (not a mock: a
real HTTP server that checks signatures, timestamps and nonces and verifies faces with the built-in model)."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from safetrain.proctoring.engine import DlibProvider, FaceError
from safetrain.proctoring.remote import sign

MAX_SKEW_SECONDS = 300


@dataclass
class FaceService:
    app_key: str
    secret: str
    references: dict[str, list[float]] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every request
    delay_seconds: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _authorised(self, path: str, headers, body: bytes) -> bool:
        timestamp, nonce = headers.get("X-Timestamp", ""), headers.get("X-Nonce", "")
        if headers.get("X-App-Key") != self.app_key or not timestamp.isdigit() or not nonce:
            return False
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS or nonce in self.nonces:
            return False
        expected = sign(
            self.secret,
            method="POST",
            path=path,
            app_key=self.app_key,
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
        time.sleep(self.delay_seconds)
        payload = json.loads(body)
        engine = DlibProvider()
        if path == "/v1/enrol":
            try:
                enrolment = engine.enrol(base64.b64decode(payload["image"]))
            except FaceError as exc:
                return 422, {"reason": exc.reason}
            reference = secrets.token_hex(8)
            self.references[reference] = enrolment.template
            return 200, {"template": reference, "box": list(enrolment.face_box)}
        if path == "/v1/verify":
            template = self.references.get(payload.get("template"))
            if template is None:
                return 404, {"reason": "unknown_reference"}
            frames = [base64.b64decode(f) for f in payload["frames"]]
            result = engine.verify(template, frames, challenge=payload.get("challenge"))
            return 200, {
                "match": result.match,
                "score": result.distance,
                "faces_found": result.faces_found,
                "liveness": result.liveness,
                "reason": result.reason,
            }
        return 404, {"reason": "unknown_path"}

    def start(self) -> FaceService:
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
