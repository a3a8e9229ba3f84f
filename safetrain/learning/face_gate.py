"""Face checks while studying (FACE-01, FACE-03): when they fall due, what a result does to the study session.

A check falls due at a random moment: the first within the part of the video still to be watched (so every video
gets at least one), the next ones at most the profile's interval after the last pass; opening the page again keeps
a due check due and a coming one no further away. Once due, heartbeats credit nothing past the due moment and
answer next_action "verify_face" (learning.beats); a pass lets crediting go on, and the profile's number of
failures, or no pass within its time limit, ends the session and signs the learner out with a notice.

The moments come from the operating system's random source, so a script cannot predict them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from safetrain.learning.models import LessonProgress, SessionState, StudySession

_random = secrets.SystemRandom()
MIN_DELAY_SECONDS = 5.0  # never ask within the first seconds of a page: the video has to start first


def checks_while_studying() -> bool:
    return settings.FACE_CHECKS_WHILE_STUDYING


def photo_hold_check(learner: Any) -> None:
    """Where checks while studying are on, study waits while the learner's reference photo does not count yet
    (waiting for review, or rejected): no check could be passed, so nothing could be credited (identity binding)."""
    from safetrain.core.errors import PermissionDenied
    from safetrain.proctoring.services import reference_photo_hold

    if not checks_while_studying():
        return
    hold = reference_photo_hold(learner)
    if hold:
        raise PermissionDenied("photo_not_approved", hold)


def interval_seconds(session: StudySession) -> float:
    return session.enrolment.programme.profile.verification_interval_minutes * 60.0


def first_check_at(session: StudySession, progress: LessonProgress, now: dt.datetime) -> dt.datetime | None:
    """A random moment within the next interval and before the rest of the video ends (at least once per
    video). A re-watched, finished lesson gets one within the interval."""
    if not checks_while_studying():
        return None
    remaining = session.lesson.duration_seconds - progress.furthest_position
    window = (
        min(interval_seconds(session), remaining)
        if remaining > MIN_DELAY_SECONDS
        else interval_seconds(session)
    )
    delay = max(MIN_DELAY_SECONDS, _random.uniform(0.2, 0.8) * window)
    return now + dt.timedelta(seconds=delay)


def carried_over(
    previous: StudySession | None, fresh: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime | None, int]:
    """Opening a page again never escapes a check: a check that was due when the learner's previous study page
    ended is due at once (its failures still count), and a check still to come keeps its remaining time, so
    reloading cannot push it away. Returns (due moment, failures so far)."""
    if fresh is None or previous is None or previous.face_due_at is None:
        return fresh, 0
    ended = previous.ended_at or now
    failures = 0 if previous.state == SessionState.FACE_FAILED else previous.face_failures
    if previous.face_due_at <= ended:
        return now, failures
    return min(fresh, now + (previous.face_due_at - ended)), failures


def next_check_at(session: StudySession, now: dt.datetime) -> dt.datetime:
    """After a pass: a random moment between half and all of the interval (never more than the interval)."""
    return now + dt.timedelta(seconds=_random.uniform(0.5, 1.0) * interval_seconds(session))


def due(session: StudySession, now: dt.datetime) -> bool:
    return session.face_due_at is not None and now >= session.face_due_at


def face_sign_out(session: StudySession, *, now: dt.datetime, reason: str) -> None:
    """End the study session and every signed-in session of the learner, who is told why on the next page."""
    from safetrain.accounts.models import SessionEndReason
    from safetrain.accounts.services import sessions_end_all
    from safetrain.learning.crediting import _end_session
    from safetrain.records.services import audit_log

    if session.state == SessionState.ACTIVE:
        _end_session(session, now=now, state=SessionState.FACE_FAILED)
    sessions_end_all(user=session.learner, reason=SessionEndReason.FACE_FAILED)
    audit_log(
        action="face.sign_out",
        obj=session.learner,
        actor=session.learner,
        result="failure",
        detail={"study_session": session.pk, "reason": reason, "failures": session.face_failures},
    )


@transaction.atomic
def study_check_result(*, learner: Any, session_id: int, passed: bool | None) -> dict[str, Any]:
    """Apply a finished check to the learner's playing study session (the one checked, or the page that replaced
    it). passed=None is no verdict (the service was down or slow): it costs no try and restarts the time limit.
    Returns what the page needs to know, including where to resume after a pass (where crediting stopped)."""
    sessions = StudySession.objects.select_for_update(of=("self",)).select_related(
        "enrolment__programme__profile", "lesson", "learner"
    )
    session = sessions.filter(pk=session_id, learner=learner, state=SessionState.ACTIVE).first()
    if session is None:
        session = sessions.filter(learner=learner, state=SessionState.ACTIVE).first()
    if session is None:
        return {"signed_out": False, "tries_left": 0, "session_active": False}
    now = timezone.now()
    profile = session.enrolment.programme.profile
    was_due = due(session, now)
    if passed is None:
        if was_due:
            session.face_due_at = now
            session.save(update_fields=["face_due_at"])
        return {
            "signed_out": False,
            "tries_left": profile.face_max_failures - session.face_failures,
            "session_active": True,
        }
    if passed:
        session.face_failures = 0
        session.face_passed_at = now
        session.face_due_at = next_check_at(session, now)
        session.time_carry = 0.0
        fields = ["face_failures", "face_passed_at", "face_due_at", "time_carry"]
        if was_due:
            # Nothing was credited while the check was due: the next beat starts a fresh stretch from here, at the
            # position where crediting stopped (the page goes back there).
            session.last_accepted_at = now
            session.last_clean_playing = False
            fields += ["last_accepted_at", "last_clean_playing"]
        session.save(update_fields=fields)
        return {
            "signed_out": False,
            "tries_left": profile.face_max_failures,
            "session_active": True,
            "resume_position": session.last_position if was_due else None,
        }
    session.face_failures += 1
    if session.face_due_at is None or session.face_due_at > now:
        session.face_due_at = now  # a failed check makes one due at once
    session.save(update_fields=["face_failures", "face_due_at"])
    if session.face_failures >= profile.face_max_failures:
        face_sign_out(session, now=now, reason="failures")
        return {"signed_out": True, "tries_left": 0, "session_active": False}
    return {
        "signed_out": False,
        "tries_left": profile.face_max_failures - session.face_failures,
        "session_active": True,
    }
