"""Face checks from the study, sign-in and exam pages: a challenge, then camera frames in and a verdict out
(FACE-01..04)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from safetrain.core.errors import DomainError
from safetrain.proctoring.services import (
    FRAME_INTERVAL_MS,
    FRAMES_PER_CHECK,
    challenge_instruction,
    face_challenge_issue,
    face_check_run,
)

router = Router(tags=["face verification"])


class ChallengeIn(Schema):
    purpose: str = Field(..., max_length=10, description="login, study, exam or manual")
    study_session_id: int | None = Field(None, description="the study session, for purpose study")


class ChallengeOut(Schema):
    id: int
    challenge: str
    instruction: str
    frames: int
    interval_ms: int
    expires_in: int


@router.post(
    "/face-challenges", response=ChallengeOut, summary="Start a face check: the liveness challenge to perform"
)
def face_challenge(request: HttpRequest, payload: ChallengeIn):
    item = face_challenge_issue(
        user=request.auth, purpose=payload.purpose, study_session_id=payload.study_session_id
    )
    return challenge_out(item)


def challenge_out(item: Any) -> ChallengeOut:
    """What a page needs to run a challenge (the exam's checks answer with the same shape)."""
    from django.conf import settings

    return ChallengeOut(
        id=item.pk,
        challenge=item.challenge,
        instruction=challenge_instruction(item.challenge),
        frames=FRAMES_PER_CHECK,
        interval_ms=FRAME_INTERVAL_MS,
        expires_in=settings.FACE_CHALLENGE_TTL_SECONDS,
    )


class FaceCheckIn(Schema):
    challenge_id: int
    frames: list[str] = Field(..., min_length=1, max_length=6, description="base64 JPEG or PNG camera frames")


class FaceCheckOut(Schema):
    id: int
    passed: bool
    reason: str
    message: str
    distance: float | None
    signed_out: bool
    tries_left: int | None
    resume_position: float | None = Field(None, description="study: where to go on playing after a pass")


def frames_decode(frames: list[str]) -> list[bytes]:
    """The camera frames of a check (base64, or data URLs) as bytes; the exam's checks send the same."""
    try:
        return [base64.b64decode(f.split(",", 1)[-1], validate=True) for f in frames]
    except (binascii.Error, ValueError) as exc:
        raise DomainError(
            "invalid_frame", _("Camera frames must be base64-encoded images."), field="frames"
        ) from exc


@router.post("/face-checks", response=FaceCheckOut, summary="Verify the learner in front of the camera")
def face_check(request: HttpRequest, payload: FaceCheckIn):
    outcome = face_check_run(
        user=request.auth,
        challenge_id=payload.challenge_id,
        frames=frames_decode(payload.frames),
        request=request,
    )
    check = outcome["check"]
    return FaceCheckOut(
        id=check.pk,
        passed=check.passed,
        reason=check.reason,
        message=outcome["message"],
        distance=check.distance,
        signed_out=outcome["signed_out"],
        tries_left=outcome["tries_left"],
        resume_position=outcome.get("resume_position"),
    )
