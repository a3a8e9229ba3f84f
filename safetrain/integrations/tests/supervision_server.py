"""A reference receiver of the provincial supervision platform's exchange API (INT-01) for the tests: a real HTTP
server on 127.0.0.1 that checks every pushed record's Ed25519 signature against the platform's registered public
key, stores records by id and version (409 for one it has), can be told to fail, and serves a revocation list
signed with the province's own key."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from safetrain.integrations import sm2


@dataclass
class Province:
    platform_key: Ed25519PublicKey | str  # the platform's public key registered here (hex x||y for SM2)
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)  # the province's own
    algorithm: str = "Ed25519"  # or SM2-SM3: then the keys are SM2 ones
    sm2_key: str = field(default_factory=sm2.generate_private_key)  # the province's own SM2 key
    stored: dict[tuple[str, str], dict] = field(default_factory=dict)  # (id, version) -> body
    refused: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to the next N pushes
    revocations: list[dict] = field(default_factory=list)
    forge_revocations: bool = False
    replay: tuple[bytes, str] | None = None  # serve this recorded (body, signature) instead of a fresh answer
    last_answer: tuple[bytes, str] | None = None
    clock_offset_seconds: int = 0  # generated_at this far from now
    requests: list[str] = field(default_factory=list)


def start(province: Province) -> tuple[ThreadingHTTPServer, str]:
    def verified(body: bytes, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
            if province.algorithm == "SM2-SM3":
                return sm2.verify(province.platform_key, body, raw)
            province.platform_key.verify(raw, body)
        except (InvalidSignature, ValueError):
            return False
        return True

    def sign(key, body: bytes) -> bytes:
        if province.algorithm == "SM2-SM3":
            own = province.sm2_key if key is province.key else sm2.generate_private_key()  # a forger's key
            return sm2.sign(own, body)
        return key.sign(body)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(
            self, status: int, payload: dict, key: Ed25519PrivateKey | None = None, raw: tuple | None = None
        ) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode() if raw is None else raw[0]
            signature = raw[1] if raw else (base64.b64encode(sign(key, body)).decode() if key else None)
            if signature:
                province.last_answer = (body, signature)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if signature:
                self.send_header("X-Signature", signature)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            province.requests.append(f"POST {self.path}")
            if province.fail_next > 0:
                province.fail_next -= 1
                return self._send(503, {"error": "busy"})
            if self.headers.get("X-Signature-Algorithm") != province.algorithm or not verified(
                body, self.headers.get("X-Signature", "")
            ):
                province.refused.append(self.path)
                return self._send(400, {"error": "bad signature"})
            record = json.loads(body)
            if urlparse(self.path).path != f"/api/v1/records/{record['kind']}":
                return self._send(404, {"error": "unknown kind"})
            key = (record["id"], record["version"])
            if key in province.stored:
                return self._send(409, {"status": "duplicate"})
            province.stored[key] = record
            return self._send(200, {"status": "stored"})

        def do_GET(self):  # noqa: N802
            province.requests.append(f"GET {self.path}")
            url = urlparse(self.path)
            if url.path != "/api/v1/revocations":
                return self._send(404, {"error": "unknown"})
            if province.replay is not None:
                return self._send(200, {}, raw=province.replay)
            query = parse_qs(url.query, keep_blank_values=True)
            asked = (query.get("since") or [""])[0]
            items = province.revocations[int(asked or 0) :]
            signer = Ed25519PrivateKey.generate() if province.forge_revocations else province.key
            generated = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=province.clock_offset_seconds)
            answer = {
                "since": asked,
                "nonce": (query.get("nonce") or [""])[0],
                "generated_at": generated.isoformat(),
                "items": items,
                "cursor": str(len(province.revocations)),
            }
            return self._send(200, answer, key=signer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
