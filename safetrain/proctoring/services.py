"""Reference photo upload, review and enrolment (ACC-07, FACE-05, identity binding 实名核验); face checks (FACE-01..04)."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from PIL import Image, UnidentifiedImageError

from safetrain.core.crypto import decrypt_bytes, encrypt_bytes
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.orgs.models import Organisation
from safetrain.proctoring.engine import FaceError, Reason, provider
from safetrain.proctoring.models import DecisionSource, FacePhotoArchive, FaceTemplate, PhotoStatus
from safetrain.proctoring.realname import MATCH, identity_service
from safetrain.records.services import audit_log

MAX_PHOTO_BYTES = 500 * 1024
PHOTO_FORMATS = {"JPEG", "PNG"}
# ACC-07: a one-inch portrait, 295 x 412 px; other portrait sizes of about that shape are accepted.
MIN_WIDTH, MIN_HEIGHT = 200, 280
ASPECT_RANGE = (1.15, 1.6)  # height / width

FACE_MESSAGES = {
    Reason.NO_FACE: gettext_noop(
        "No face was found in the photo. Use a clear front-facing photo of yourself."
    ),
    Reason.MULTIPLE_FACES: gettext_noop("The photo shows more than one face. Use a photo of yourself alone."),
    Reason.FACE_TOO_SMALL: gettext_noop(
        "The face is too small in the photo. Use a close-up portrait, head and shoulders."
    ),
    Reason.UNREADABLE: gettext_noop("The file cannot be read as an image. Use a JPG or PNG photo."),
    "service_unavailable": gettext_noop(
        "The face verification service cannot be reached just now. Try again in a few minutes."
    ),
}


def face_message(reason: str) -> str:
    return _(FACE_MESSAGES.get(reason, gettext_noop("The photo cannot be used for face verification.")))


def _check_photo(data: bytes) -> tuple[int, int]:
    if len(data) > MAX_PHOTO_BYTES:
        raise DomainError(
            "photo_too_large",
            _("The photo is %(kb)d KB; it must be under 500 KB.") % {"kb": len(data) // 1024},
            field="photo",
        )
    try:
        image = Image.open(io.BytesIO(data))
        fmt, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise DomainError("photo_type", face_message(Reason.UNREADABLE), field="photo") from exc
    if fmt not in PHOTO_FORMATS:
        raise DomainError("photo_type", _("The photo must be a JPG or PNG file."), field="photo")
    if width < MIN_WIDTH or height < MIN_HEIGHT or not ASPECT_RANGE[0] <= height / width <= ASPECT_RANGE[1]:
        raise DomainError(
            "photo_size",
            _(
                "The photo is %(w)d x %(h)d px; use a one-inch portrait of about 295 x 412 px (upright, taller than "
                "wide)."
            )
            % {"w": width, "h": height},
            field="photo",
        )
    return width, height


PHOTO_LOCKED = gettext_noop(
    "Your photo is already on file. Only an administrator can replace it; contact your unit or customer service."
)
PHOTO_PENDING = gettext_noop(
    "Your face photo is being reviewed. You can study and take exams once it is approved."
)
PHOTO_REJECTED = gettext_noop(
    "Your face photo was not approved: %(reason)s. Please upload a clear, front-facing photo of yourself again."
)


def _archive(template: FaceTemplate, *, actor: Any, now: Any) -> FacePhotoArchive:
    """Keep the photo being replaced, with its review; its encrypted file stays in storage (retention)."""
    return FacePhotoArchive.objects.create(
        user_id=template.user_id,
        photo_name=template.photo_name,
        photo_sha256=template.photo_sha256,
        width=template.width,
        height=template.height,
        provider=template.provider,
        uploaded_at=template.created_at,
        uploaded_by_id=template.uploaded_by_id,
        status=template.status,
        decided_at=template.decided_at,
        decided_by_id=template.decided_by_id,
        decision_source=template.decision_source,
        decision_reason=template.decision_reason,
        identity_result=template.identity_result,
        id_photo_name=template.id_photo_name,
        archived_at=now,
        archived_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def _reference_photo_store(*, user: Any, data: bytes, actor: Any) -> FaceTemplate:
    existing = FaceTemplate.objects.select_for_update().filter(user=user).first()
    operator = actor.sees_everything()
    if actor.pk != user.pk and not operator:
        raise PermissionDenied("forbidden", _("Only an administrator can upload someone else's photo."))
    if existing and existing.status == PhotoStatus.APPROVED and not operator:
        raise PermissionDenied("photo_locked", _(PHOTO_LOCKED))
    width, height = _check_photo(data)
    try:
        enrolment = provider().enrol(data)
    except FaceError as exc:
        raise DomainError(f"face_{exc.reason}", face_message(exc.reason), field="photo") from exc
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(f"faces/{user.pk}/{digest[:16]}.enc", ContentFile(encrypt_bytes(data)))
    now = timezone.now()
    try:
        values = {
            "template": json.dumps(enrolment.template),
            "photo_name": name,
            "photo_sha256": digest,
            "width": width,
            "height": height,
            "provider": type(provider()).__name__,
            "uploaded_by": actor,
            # A new photo counts only once it is approved, whoever uploaded it (identity binding).
            "status": PhotoStatus.PENDING,
            "decided_at": None,
            "decided_by": None,
            "decision_source": "",
            "decision_reason": "",
            "identity_result": "",
            "identity_reason": "",
            "identity_score": None,
            "identity_checked_at": None,
            "id_photo_name": "",
        }
        if existing:
            _archive(existing, actor=actor, now=now)
            for key, value in values.items():
                setattr(existing, key, value)
            existing.created_at = (
                now  # when the photo on file was uploaded; the earlier one is in the archive
            )
            existing.replaced_at = now
            existing.save()
            template = existing
        else:
            try:
                with transaction.atomic():
                    template = FaceTemplate.objects.create(user=user, **values)
            except IntegrityError as exc:  # two first uploads at once: the other one won
                raise PermissionDenied("photo_locked", _(PHOTO_LOCKED)) from exc
        audit_log(
            action="face.reference_photo",
            obj=user,
            actor=actor,
            detail={"replaced": bool(existing), "sha256": digest[:16]},
        )
    except Exception:
        default_storage.delete(name)
        raise
    return template


def reference_photo_set(*, user: Any, data: bytes, actor: Any) -> FaceTemplate:
    """Upload a reference photo (ACC-07). It counts only once approved (实名核验): at once by the identity service
    when it finds the photo matches the ID-card photo, otherwise by a reviewer of the learner's unit or training
    institution. The learner uploads again while the photo waits or after a rejection; once approved, only an
    operator replaces it. A replaced photo is archived, never deleted. Nothing is stored when the photo is refused.

    The identity service is asked after the photo is stored, outside its transaction: no lock is held while a remote
    service answers, and a service that is down leaves the photo waiting for a person."""
    template = _reference_photo_store(user=user, data=data, actor=actor)
    if identity_service() is not None:
        template = reference_photo_identity_check(template=template, data=data)
    return template


def reference_photo_identity_check(*, template: FaceTemplate, data: bytes | None = None) -> FaceTemplate:
    """Ask the identity service about a waiting photo and record its verdict and reason; a match approves it. Any
    other answer (a mismatch, no ID-card photo on record, the service unreachable) leaves it for a reviewer."""
    service = identity_service()
    if service is None or template.status != PhotoStatus.PENDING:
        return template
    user = template.user
    verdict = service.compare(
        id_type=user.id_type,
        id_number=user.id_number,
        name=user.name,
        image=data or reference_photo(template),
    )
    id_photo_name = ""
    if verdict.id_photo:
        id_photo_name = default_storage.save(
            f"idcards/{user.pk}/{template.photo_sha256[:16]}.enc",
            ContentFile(encrypt_bytes(verdict.id_photo)),
        )
    try:
        with transaction.atomic():
            current = FaceTemplate.objects.select_for_update().get(pk=template.pk)
            if current.photo_sha256 != template.photo_sha256 or current.status != PhotoStatus.PENDING:
                # Replaced or decided while the service answered: the verdict is about a photo no longer waiting.
                if id_photo_name:
                    default_storage.delete(id_photo_name)
                return current
            now = timezone.now()
            current.identity_result = verdict.result
            current.identity_reason = verdict.reason[:200]
            current.identity_score = verdict.score
            current.identity_checked_at = now
            current.id_photo_name = id_photo_name
            approved = verdict.result == MATCH
            if approved:
                current.status = PhotoStatus.APPROVED
                current.decided_at = now
                current.decision_source = DecisionSource.IDENTITY_SERVICE
                current.decision_reason = verdict.reason[:300]
            current.save()
            audit_log(
                action="face.photo_identity_check",
                obj=user,
                actor=None,
                result="success" if approved else "failure",
                detail={
                    "result": verdict.result,
                    "reason": verdict.reason[:100],
                    "score": verdict.score,
                    "approved": approved,
                    "sha256": current.photo_sha256[:16],
                },
            )
    except Exception:
        if id_photo_name:
            default_storage.delete(id_photo_name)
        raise
    return current


def photo_reviewable_people(reviewer: Any) -> Any:
    """Whose photos the reviewer decides: operators everyone's; unit admins (enterprise, project) and training
    institution admins the people of the units they administer. Never their own."""
    people = get_user_model().objects.all()
    if not reviewer.sees_everything():
        people = people.filter(
            memberships__organisation__in=Organisation.objects.administered_by(reviewer),
            memberships__is_active=True,
        )
    return people.exclude(pk=reviewer.pk).distinct()


def photo_review_queue(*, reviewer: Any) -> Any:
    """Photos waiting for the reviewer, oldest first."""
    return (
        FaceTemplate.objects.filter(
            status=PhotoStatus.PENDING, user__in=photo_reviewable_people(reviewer).values("pk")
        )
        .select_related("user", "user__primary_organisation")
        .order_by("created_at", "pk")
    )


@transaction.atomic
def _photo_decide(
    *, template: FaceTemplate, reviewer: Any, approve: bool, reason: str, photo_sha256: str | None
) -> FaceTemplate:
    from safetrain.accounts.models import Notice

    current = FaceTemplate.objects.select_for_update().select_related("user").get(pk=template.pk)
    if not photo_reviewable_people(reviewer).filter(pk=current.user_id).exists():
        raise PermissionDenied(
            "forbidden", _("You review the photos of the people of your own units only, never your own.")
        )
    if photo_sha256 is not None and photo_sha256 != current.photo_sha256:
        raise DomainError(
            "photo_changed", _("The photo was replaced meanwhile: look at the new one before deciding.")
        )
    if current.status != PhotoStatus.PENDING:
        raise DomainError("already_decided", _("This photo has been reviewed already."))
    reason = " ".join((reason or "").split()).rstrip("。．.!！;；")  # the message adds its own full stop
    if not approve and not reason:
        raise DomainError(
            "reason_required", _("Say why the photo is rejected: the learner reads it."), field="reason"
        )
    if len(reason) > 300:
        raise DomainError("reason_too_long", _("At most 300 characters, please."), field="reason")
    current.status = PhotoStatus.APPROVED if approve else PhotoStatus.REJECTED
    current.decided_at = timezone.now()
    current.decided_by = reviewer
    current.decision_source = DecisionSource.REVIEWER
    current.decision_reason = reason
    current.save(update_fields=["status", "decided_at", "decided_by", "decision_source", "decision_reason"])
    audit_log(
        action="face.photo_approve" if approve else "face.photo_reject",
        obj=current.user,
        actor=reviewer,
        detail={"sha256": current.photo_sha256[:16], "reason": reason},
    )
    Notice.objects.create(
        user=current.user,
        title=_("Your face photo was approved") if approve else _("Your face photo was not approved"),
        body=_("You can now study and take exams with face verification.")
        if approve
        else _(PHOTO_REJECTED) % {"reason": reason},
        link=reverse("proctoring:photo"),
    )
    return current


def reference_photo_approve(
    *, template: FaceTemplate, reviewer: Any, photo_sha256: str | None = None
) -> FaceTemplate:
    """A reviewer approves a waiting photo after comparing it with the person's details (and the ID-card photo,
    when the identity service sent one). `photo_sha256`: the photo the reviewer looked at; a replaced one is
    refused."""
    return _photo_decide(
        template=template, reviewer=reviewer, approve=True, reason="", photo_sha256=photo_sha256
    )


def reference_photo_reject(
    *, template: FaceTemplate, reviewer: Any, reason: str, photo_sha256: str | None = None
) -> FaceTemplate:
    """A reviewer rejects a waiting photo, saying why; the learner reads the reason and uploads another."""
    return _photo_decide(
        template=template, reviewer=reviewer, approve=False, reason=reason, photo_sha256=photo_sha256
    )


def photo_hold_message(template: FaceTemplate | None) -> str:
    if template is None or template.status == PhotoStatus.APPROVED:
        return ""
    if template.status == PhotoStatus.PENDING:
        return _(PHOTO_PENDING)
    return _(PHOTO_REJECTED) % {"reason": template.decision_reason or _("no reason given")}


def reference_photo_hold(user: Any) -> str:
    """Why the learner's photo does not count yet (waiting for review, or rejected and why); "" when it is approved
    or when there is none (the pages ask for one)."""
    return photo_hold_message(
        FaceTemplate.objects.filter(user=user).only("status", "decision_reason", "user_id").first()
    )


def reference_photo_state(user: Any) -> str:
    """ "" (no photo), "pending", "approved" or "rejected"."""
    return FaceTemplate.objects.filter(user=user).values_list("status", flat=True).first() or ""


def _approved_template(user: Any) -> FaceTemplate:
    """The reference a face check compares with: only an approved photo (a stand-in's own face never counts)."""
    template = FaceTemplate.objects.filter(user=user).first()
    if template is None:
        raise DomainError(
            "no_reference_photo", _("Upload your ID photo first: it is the reference for face verification.")
        )
    if template.status != PhotoStatus.APPROVED:
        raise PermissionDenied(f"photo_{template.status}", photo_hold_message(template))
    return template


def reference_photo(template: FaceTemplate) -> bytes:
    with default_storage.open(template.photo_name, "rb") as fh:
        return decrypt_bytes(fh.read())


MAX_FRAMES = 6
MAX_FRAME_BYTES = 400 * 1024
FRAMES_PER_CHECK = 5
FRAME_INTERVAL_MS = 500  # five frames over two seconds: long enough for a blink or a turn of the head

CHECK_MESSAGES = {
    "": gettext_noop("Identity confirmed."),
    Reason.NO_FACE: gettext_noop("No face was seen. Face the camera in good light and try again."),
    Reason.MULTIPLE_FACES: gettext_noop(
        "More than one face was seen. Only the learner may be in front of the camera."
    ),
    Reason.FACE_TOO_SMALL: gettext_noop("Your face is too far away. Come closer so it fills the oval."),
    Reason.DIFFERENT_PERSON: gettext_noop(
        "The face does not match the enrolled learner's photo. Only the enrolled learner may study."
    ),
    Reason.NOT_LIVE: gettext_noop(
        "The liveness check failed: follow the instruction on the screen (blink, or turn your head slowly)."
    ),
    Reason.UNREADABLE: gettext_noop("The camera picture could not be read. Try again."),
    "timeout": gettext_noop("The check took too long. Try again."),
    "service_unavailable": gettext_noop(
        "The face verification service cannot be reached just now. Try again in a few minutes."
    ),
}

CHALLENGE_INSTRUCTIONS = {
    "blink": gettext_noop("Look at the camera and blink slowly two or three times."),
    "turn": gettext_noop("Look at the camera, then turn your head slowly to one side and back."),
}


def check_message(reason: str) -> str:
    return _(CHECK_MESSAGES.get(reason, gettext_noop("The check was not passed. Try again.")))


def challenge_instruction(challenge: str) -> str:
    return _(CHALLENGE_INSTRUCTIONS.get(challenge, CHALLENGE_INSTRUCTIONS["blink"]))


def has_reference_photo(user: Any) -> bool:
    return FaceTemplate.objects.filter(user=user).exists()


# Results that say nothing about the person (the service was down or too slow, the picture unreadable): they
# consume no try and never sign anyone out.
NO_VERDICT = frozenset({"timeout", "service_unavailable", Reason.UNREADABLE})


def face_challenge_issue(
    *, user: Any, purpose: str, study_session_id: int | None = None, exam_attempt_id: int | None = None
) -> Any:
    """Start a check: the server picks the liveness challenge at random (a script cannot prepare for it). While
    an issued challenge is unanswered and fresh, asking again returns the same one: no shopping for an easy one.

    `exam_attempt_id` (purpose exam): a check during that attempt, issued by the exam's own service
    (assessment.exams), which has checked the attempt; the generic API never passes it."""
    import datetime as dt
    import secrets

    from django.conf import settings

    from safetrain.learning.models import SessionState, StudySession
    from safetrain.proctoring.models import CheckPurpose, FaceChallenge

    if purpose not in CheckPurpose.values:
        raise DomainError("invalid_purpose", _("Unknown purpose of the check."), field="purpose")
    _approved_template(user)
    if purpose == CheckPurpose.STUDY:
        if not StudySession.objects.filter(
            pk=study_session_id or 0, learner=user, state=SessionState.ACTIVE
        ).exists():
            raise DomainError(
                "session_not_active",
                _("This study page is no longer active. Reload the lesson to go on."),
                field="study_session_id",
            )
    else:
        study_session_id = None
    if purpose != CheckPurpose.EXAM:
        exam_attempt_id = None
    now = timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(
            pk=user.pk
        ).first()  # one open challenge at a time
        fresh = now - dt.timedelta(seconds=settings.FACE_CHALLENGE_TTL_SECONDS)
        open_challenge = (
            FaceChallenge.objects.filter(user=user, used_at__isnull=True, issued_at__gte=fresh)
            .order_by("-issued_at")
            .first()
        )
        if open_challenge is not None:
            if (
                open_challenge.purpose,
                open_challenge.study_session_id,
                open_challenge.exam_attempt_id,
            ) == (purpose, study_session_id, exam_attempt_id):
                return open_challenge
            open_challenge.used_at = now  # another page asks: the old challenge can no longer be answered
            open_challenge.save(update_fields=["used_at"])
        return FaceChallenge.objects.create(
            user=user,
            purpose=purpose,
            study_session_id=study_session_id,
            exam_attempt_id=exam_attempt_id,
            challenge=secrets.choice(settings.FACE_CHALLENGES),
            issued_at=now,
        )


def _take_challenge(user: Any, challenge_id: int, exam_attempt_id: int | None = None) -> Any:
    """The challenge, once: a used, expired or someone else's challenge is refused and nothing is recorded; so is
    a challenge of an exam attempt answered elsewhere than through that attempt (and the other way round)."""
    import datetime as dt

    from django.conf import settings

    from safetrain.proctoring.models import FaceChallenge

    now = timezone.now()
    fresh = now - dt.timedelta(seconds=settings.FACE_CHALLENGE_TTL_SECONDS)
    taken = FaceChallenge.objects.filter(
        pk=challenge_id,
        user=user,
        used_at__isnull=True,
        issued_at__gte=fresh,
        exam_attempt_id=exam_attempt_id,
    ).update(used_at=now)
    if not taken:
        raise DomainError(
            "challenge_expired",
            _("This check has expired or was already answered. Start the check again."),
            field="challenge_id",
        )
    return FaceChallenge.objects.get(pk=challenge_id)


def face_check_run(
    *,
    user: Any,
    challenge_id: int,
    frames: list[bytes],
    request: Any = None,
    exam_attempt_id: int | None = None,
) -> dict[str, Any]:
    """Check that the person in front of the camera is the enrolled learner and live (FACE-01/02), keep the
    snapshot (FACE-04) and apply the result: a study session goes on or, after too many failures, the learner is
    signed out (FACE-03). Unusable input is refused with a reason and changes nothing. `exam_attempt_id`: a check
    during that exam attempt (the exam's service applies its result to the attempt)."""
    import time

    from safetrain.core.http import client_ip
    from safetrain.proctoring.models import CheckPurpose, FaceCheck
    from safetrain.proctoring.runner import verify_with_timeout

    if not frames or len(frames) > MAX_FRAMES:
        raise DomainError(
            "frames_count", _("Send 1 to %(n)d camera frames.") % {"n": MAX_FRAMES}, field="frames"
        )
    if any(len(f) > MAX_FRAME_BYTES for f in frames):
        raise DomainError("frame_too_large", _("A camera frame may be at most 400 KB."), field="frames")
    template = _approved_template(user)
    if template.provider != type(provider()).__name__:
        # The verification service was changed: references made by the old one mean nothing to the new one.
        raise DomainError(
            "reference_outdated",
            _(
                "Your ID photo has to be registered again with the platform's new verification service. Contact "
                "your unit or customer service to have it uploaded again."
            ),
        )
    challenge = _take_challenge(user, challenge_id, exam_attempt_id)
    started = time.perf_counter()
    result = verify_with_timeout(json.loads(template.template), frames, challenge=challenge.challenge)
    elapsed = int((time.perf_counter() - started) * 1000)
    now = timezone.now()
    name = default_storage.save(
        f"snapshots/{user.pk}/{now:%Y%m%d%H%M%S%f}.enc", ContentFile(encrypt_bytes(frames[0]))
    )
    try:
        with transaction.atomic():
            check = FaceCheck.objects.create(
                user=user,
                purpose=challenge.purpose,
                study_session_id=challenge.study_session_id,
                exam_attempt_id=challenge.exam_attempt_id,
                at=now,
                passed=result.match,
                reason=result.reason,
                distance=result.distance,
                challenge=challenge.challenge,
                frames=len(frames),
                snapshot_name=name,
                duration_ms=elapsed,
                ip=client_ip(request),
            )
            audit_log(
                action="face.check",
                obj=user,
                actor=user,
                request=request,
                result="success" if result.match else "failure",
                detail={"purpose": challenge.purpose, "reason": result.reason, "distance": result.distance},
            )
    except Exception:
        default_storage.delete(name)
        raise
    verdict: bool | None = None if (not check.passed and check.reason in NO_VERDICT) else check.passed
    outcome: dict[str, Any] = {"signed_out": False, "tries_left": None, "resume_position": None}
    if challenge.purpose == CheckPurpose.STUDY:
        from safetrain.learning.face_gate import study_check_result

        outcome.update(
            study_check_result(learner=user, session_id=challenge.study_session_id, passed=verdict)
        )
    elif challenge.purpose == CheckPurpose.LOGIN:
        from safetrain.accounts.services import auth_session_face_result

        session = getattr(request, "auth_session", None)
        if session is not None:
            outcome.update(auth_session_face_result(session=session, passed=verdict))
    return {"check": check, "message": check_message(check.reason), **outcome}


def face_passed_since(*, user: Any, purpose: str, since: Any) -> bool:
    """Whether the user passed a check for this purpose since a moment (the exam start asks this, FACE-01), and the
    reference photo still counts (a photo replaced since then waits for its review)."""
    from safetrain.proctoring.models import FaceCheck

    # Only a check taken to start (no attempt yet): a pass during one attempt's last minutes opens no other one.
    return (
        FaceTemplate.objects.approved().filter(user=user).exists()
        and FaceCheck.objects.filter(
            user=user, purpose=purpose, passed=True, at__gte=since, exam_attempt_id__isnull=True
        ).exists()
    )


def challenges_purge(*, older_than_hours: int = 24) -> int:
    """Delete face challenges older than a day: answered ones are recorded as checks, unanswered ones expired."""
    import datetime as dt

    from safetrain.proctoring.models import FaceChallenge

    cutoff = timezone.now() - dt.timedelta(hours=older_than_hours)
    deleted, _detail = FaceChallenge.objects.filter(issued_at__lt=cutoff).delete()
    return deleted
