"""A reference identity service on 127.0.0.1 implementing the protocol of safetrain.proctoring.realname (not a mock:
a real HTTP server that checks signatures, timestamps and nonces like the face service, holds ID-card photos by ID
number as the public-security service does, and compares faces with the built-in model)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from safetrain.proctoring.engine import DlibProvider, FaceError
from safetrain.proctoring.tests.face_service import FaceService


@dataclass
class IdentityService(FaceService):
    id_photos: dict[str, bytes] = field(default_factory=dict)  # ID number -> the ID-card photo on record
    asked: list[dict] = field(
        default_factory=list
    )  # what each request asked (id number, name), for the tests

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if not self._authorised(path, headers, body):
            return 401, {"reason": "bad_signature"}
        if path != "/v1/portrait-compare":
            return 404, {"reason": "unknown_path"}
        payload = json.loads(body)
        self.asked.append({"id_number": payload.get("id_number"), "name": payload.get("name")})
        id_photo = self.id_photos.get(payload.get("id_number"))
        if id_photo is None:
            return 200, {"result": "no_record", "score": None, "reason": "no_id_photo", "id_photo": None}
        engine = DlibProvider()
        try:
            reference = engine.enrol(id_photo).template
            result = engine.verify(reference, [base64.b64decode(payload["image"])])
        except FaceError as exc:
            return 200, {"result": "mismatch", "score": None, "reason": exc.reason, "id_photo": None}
        return 200, {
            "result": "match" if result.match else "mismatch",
            "score": result.distance,
            "reason": "portrait_match" if result.match else result.reason,
            "id_photo": base64.b64encode(id_photo).decode(),
        }
