"""Face checks from the study and exam pages: camera frames in, a verdict out (FACE-01, FACE-02, FACE-04)."""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from safetrain.core.errors import DomainError
from safetrain.proctoring.services import face_check_run

router = Router(tags=["face verification"])


class FaceCheckIn(Schema):
    purpose: str = Field(..., max_length=10)
    challenge: str = Field("", max_length=10)
    frames: list[str] = Field(..., min_length=1, max_length=6, description="base64 JPEG or PNG camera frames")


class FaceCheckOut(Schema):
    id: int
    passed: bool
    reason: str
    distance: float | None


@router.post("/face-checks", response=FaceCheckOut, summary="Verify the learner in front of the camera")
def face_check(request: HttpRequest, payload: FaceCheckIn):
    try:
        frames = [base64.b64decode(f.split(",", 1)[-1], validate=True) for f in payload.frames]
    except (binascii.Error, ValueError) as exc:
        raise DomainError(
            "invalid_frame", _("Camera frames must be base64-encoded images."), field="frames"
        ) from exc
    check = face_check_run(
        user=request.auth,
        frames=frames,
        purpose=payload.purpose,
        challenge=payload.challenge or None,
        request=request,
    )
    return FaceCheckOut(id=check.pk, passed=check.passed, reason=check.reason, distance=check.distance)
