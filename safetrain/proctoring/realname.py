"""The identity-service slot (实名核验): a learner's reference photo compared with the ID-card photo that the
public-security real-name service holds for the learner's ID number.

Protocol (JSON over HTTPS, signed exactly as the face service's, see safetrain.proctoring.remote: headers X-App-Key,
X-Timestamp, X-Nonce, X-Signature over method, path, key, timestamp, nonce and the body's SHA-256):

    POST {IDENTITY_SERVICE_URL}/v1/portrait-compare
         {"id_type": "resident_id", "id_number": "...", "name": "...", "image": base64}
        200 {"result": "match" | "mismatch" | "no_record", "score": float | null, "reason": str,
             "id_photo": base64 | null}

"match": the photo shows the holder of the ID card, and it is approved at once. "mismatch", "no_record" (no ID-card
photo for the number, e.g. a passport) and a service that cannot be reached, refuses the signature or answers
anything else ("unavailable") leave the photo waiting for a person to review; the verdict and its reason are kept for
that reviewer, with the ID-card photo when the service sent one. The reference server in the test suite
(safetrain/proctoring/tests/identity_service.py) implements this protocol.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.conf import settings

from safetrain.proctoring.remote import ServiceUnavailable, signed_post

MATCH, MISMATCH, NO_RECORD, UNAVAILABLE = "match", "mismatch", "no_record", "unavailable"
MAX_ID_PHOTO_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class IdentityVerdict:
    result: str  # MATCH, MISMATCH, NO_RECORD or UNAVAILABLE
    reason: str = ""
    score: float | None = None
    id_photo: bytes | None = None


class HttpIdentityService:
    """Used when IDENTITY_SERVICE_URL is set, with IDENTITY_SERVICE_APP_KEY, IDENTITY_SERVICE_SECRET (and
    IDENTITY_SERVICE_TIMEOUT_SECONDS)."""

    def compare(self, *, id_type: str, id_number: str, name: str, image: bytes) -> IdentityVerdict:
        try:
            status, data = signed_post(
                base=settings.IDENTITY_SERVICE_URL,
                app_key=settings.IDENTITY_SERVICE_APP_KEY,
                secret=settings.IDENTITY_SERVICE_SECRET,
                timeout=settings.IDENTITY_SERVICE_TIMEOUT_SECONDS,
                path="/v1/portrait-compare",
                payload={
                    "id_type": id_type,
                    "id_number": id_number,
                    "name": name,
                    "image": base64.b64encode(image).decode(),
                },
            )
        except ServiceUnavailable as exc:
            return IdentityVerdict(UNAVAILABLE, str(exc)[:200])
        result = data.get("result")
        if status != 200 or result not in (MATCH, MISMATCH, NO_RECORD):
            return IdentityVerdict(UNAVAILABLE, f"the service answered {status}")
        score = data.get("score")
        id_photo = None
        if isinstance(data.get("id_photo"), str):
            try:
                decoded = base64.b64decode(data["id_photo"], validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            id_photo = decoded if 0 < len(decoded) <= MAX_ID_PHOTO_BYTES else None
        return IdentityVerdict(
            result,
            str(data.get("reason") or "")[:200],
            round(float(score), 4) if isinstance(score, int | float) else None,
            id_photo,
        )


def identity_service() -> HttpIdentityService | None:
    """The configured identity service, or None: then every photo waits for a person to review it."""
    return HttpIdentityService() if settings.IDENTITY_SERVICE_URL else None
