"""The external face-service slot (FACE-05): a provider that asks a remote identity service over HTTPS.

Protocol (JSON over HTTPS; the service keeps the reference, we keep only its opaque reference id as the template):

    POST {FACE_SERVICE_URL}/v1/enrol   {"image": base64}
        200 {"template": "<reference id>"}          422 {"reason": "no_face" | "multiple_faces" | ...}
    POST {FACE_SERVICE_URL}/v1/verify  {"template": "<reference id>", "frames": [base64, ...], "challenge": "turn"}
        200 {"match": bool, "score": float, "faces_found": int, "liveness": bool | null, "reason": str}

Every request is signed with the platform's key pair for the service: headers X-App-Key, X-Timestamp (Unix
seconds), X-Nonce (random, single use) and X-Signature = hex HMAC-SHA256(secret, the lines method, path, app key,
timestamp, nonce and the hex SHA-256 of the body, joined by newlines). Only https is used (plain http only to
127.0.0.1 or localhost). The service refuses stale timestamps (more than 300 s off), replayed nonces and bad signatures (401).

A service that cannot be reached, answers late or answers nonsense gives the reason "service_unavailable": the
check fails (nothing is credited) and the learner may try again. The reference server in the test suite
(safetrain/proctoring/tests/face_service.py) implements this protocol on the built-in model.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from django.conf import settings

from safetrain.proctoring.engine import FaceEnrolment, FaceError, Reason, Verification

SERVICE_UNAVAILABLE = "service_unavailable"


def sign(
    secret: str, *, method: str, path: str, app_key: str, timestamp: str, nonce: str, body: bytes
) -> str:
    message = "\n".join([method, path, app_key, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _local(url: str) -> bool:
    host = httpx.URL(url).host
    return host in {"127.0.0.1", "localhost", "::1"}


class ServiceUnavailable(Exception):
    """The remote service could not be asked, or answered nothing usable."""


def signed_post(
    *, base: str, app_key: str, secret: str, timeout: float, path: str, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """POST a JSON object signed as the module docstring describes; (status, JSON object answered). Shared by the
    face service and the identity service (safetrain.proctoring.realname), which speak the same signed protocol."""
    base = base.rstrip("/")
    if not (base and app_key and secret):
        raise ServiceUnavailable("the service URL, app key and secret must be set")
    if not base.startswith("https://") and not _local(base):
        raise ServiceUnavailable("the service URL must use https")
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    full_path = httpx.URL(f"{base}{path}").raw_path.decode()
    signature = sign(
        secret, method="POST", path=full_path, app_key=app_key, timestamp=timestamp, nonce=nonce, body=body
    )
    headers = {
        "Content-Type": "application/json",
        "X-App-Key": app_key,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
    }
    try:
        response = httpx.post(f"{base}{path}", content=body, headers=headers, timeout=timeout)
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ServiceUnavailable(str(exc)) from exc
    if not isinstance(data, dict):
        raise ServiceUnavailable("the service answered something other than an object")
    return response.status_code, data


class HttpFaceProvider:
    """FACE_PROVIDER=safetrain.proctoring.remote.HttpFaceProvider with FACE_SERVICE_URL, FACE_SERVICE_APP_KEY,
    FACE_SERVICE_SECRET (and FACE_SERVICE_TIMEOUT_SECONDS)."""

    def _post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # Settings are read on every call: a key rotation applies without a restart.
        try:
            return signed_post(
                base=settings.FACE_SERVICE_URL,
                app_key=settings.FACE_SERVICE_APP_KEY,
                secret=settings.FACE_SERVICE_SECRET,
                timeout=settings.FACE_SERVICE_TIMEOUT_SECONDS,
                path=path,
                payload=payload,
            )
        except ServiceUnavailable as exc:
            raise FaceError(SERVICE_UNAVAILABLE, str(exc)) from exc

    def enrol(self, image: bytes) -> FaceEnrolment:
        status, data = self._post("/v1/enrol", {"image": base64.b64encode(image).decode()})
        if status == 422:
            raise FaceError(str(data.get("reason") or Reason.NO_FACE))
        if status != 200 or not isinstance(data.get("template"), str):
            raise FaceError(SERVICE_UNAVAILABLE, f"enrol answered {status}")
        return FaceEnrolment(data["template"], tuple(data.get("box") or (0, 0, 0, 0)))

    def describe_all(self, image: bytes) -> list[FaceEnrolment]:
        raise FaceError(SERVICE_UNAVAILABLE, "the external service does not search group photos")

    def verify(self, template: Any, frames: list[bytes], *, challenge: str | None = None) -> Verification:
        try:
            status, data = self._post(
                "/v1/verify",
                {
                    "template": template,
                    "frames": [base64.b64encode(f).decode() for f in frames],
                    "challenge": challenge,
                },
            )
        except FaceError as exc:
            return Verification(False, None, 0, None, exc.reason)
        if status != 200 or not isinstance(data.get("match"), bool):
            return Verification(False, None, 0, None, SERVICE_UNAVAILABLE)
        score = data.get("score")
        return Verification(
            data["match"],
            round(float(score), 4) if isinstance(score, int | float) else None,
            int(data.get("faces_found") or 0),
            data.get("liveness"),
            str(data.get("reason") or ""),
        )
