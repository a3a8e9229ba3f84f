"""Study sessions and their heartbeats (学时认定, LRN-01..05, ANTI-01..04): the server decides every credited second.

The rules are learning.beats.assess_beat (one pure decision); a heartbeat here reads its session
(learning.heartbeats), lets the rules decide, and writes the outcome in the request's transaction. The hot path
(learning.hotpath) answers the plain beats the same way before the page stack.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.catalog.models import Lesson, LessonKind
from safetrain.core.errors import DomainError, NotFound, PermissionDenied
from safetrain.core.hotpath import db
from safetrain.core.hotpath.keys import page_key
from safetrain.core.http import client_ip, user_agent
from safetrain.learning import face_gate, metrics
from safetrain.learning.beats import Beat, BeatOutcome, BeatState, HeartbeatResult, Rules, assess_beat
from safetrain.learning.heartbeats import beat_state_of_learner, beat_writes
from safetrain.learning.models import (
    Enrolment,
    LessonProgress,
    SessionState,
    StudyRecord,
    StudyRecordKind,
    StudySession,
    SuspiciousEvent,
)
from safetrain.learning.selectors import active_enrolments, courses_of_enrolment, resume_position


def study_day(now: dt.datetime) -> dt.date:
    """The learner's study day (LRN-04: the daily cap counts in the platform's time zone, Asia/Shanghai), whatever
    zone a request may have activated; the one rule for the API and the hot path."""
    return timezone.localdate(now, timezone.get_default_timezone())


def _enrolment_for_lesson(learner: Any, lesson: Lesson) -> Enrolment:
    for enrolment in active_enrolments(learner):
        if courses_of_enrolment(enrolment).filter(pk=lesson.chapter.course_id).exists():
            return enrolment
    raise DomainError(
        "not_enrolled", _("You are not enrolled in a programme with this lesson, or its deadline has passed.")
    )


def _lock_learner(learner: Any) -> None:
    get_user_model().objects.select_for_update().filter(pk=learner.pk).values_list("pk", flat=True).first()


def lesson_and_enrolment(*, learner: Any, lesson_id: int) -> tuple[Lesson, Enrolment]:
    lesson = Lesson.objects.select_related("chapter", "video").filter(pk=lesson_id).first()
    if lesson is None:
        raise NotFound("lesson_not_found", _("This lesson does not exist."))
    return lesson, _enrolment_for_lesson(learner, lesson)


@transaction.atomic
def study_session_open(*, learner: Any, lesson_id: int, request: HttpRequest | None = None) -> StudySession:
    """Open a study session; every other active session of the learner ends (one tab, one device: ANTI-03).

    The returned session carries `heartbeat_key`, the page's secret for its heartbeats (shown only now)."""
    lesson = Lesson.objects.select_related("chapter", "video").filter(pk=lesson_id).first()
    if lesson is None:
        raise NotFound("lesson_not_found", _("This lesson does not exist."))
    if lesson.kind != LessonKind.VIDEO:
        raise DomainError("not_a_video", _("Only video lessons are studied with the player."))
    enrolment = _enrolment_for_lesson(learner, lesson)
    face_gate.photo_hold_check(learner)
    now = timezone.now()
    # Lock the learner so two tabs opening at once end with exactly one active session (and a database
    # constraint backs it up).
    _lock_learner(learner)
    previous = StudySession.objects.filter(learner=learner).order_by("-started_at", "-pk").first()
    for old in (
        StudySession.objects.select_for_update()
        .filter(learner=learner, state=SessionState.ACTIVE)
        .order_by("pk")
    ):
        _end_session(old, now=now, state=SessionState.SUPERSEDED)
    progress, _created = LessonProgress.objects.get_or_create(enrolment=enrolment, lesson=lesson)
    # The session's crediting starts where the page starts playing, which is where the learner stopped or, when
    # nothing there is left to watch, the first part not yet watched (LRN-03). A beat behind this point only moves
    # it back without credit (nothing says where playback started), so starting at the stored end position while
    # the page replays from 0:00 would never credit a replay's first stretch: a gap there stayed for good.
    start = resume_position(
        progress.watched, lesson.duration_seconds, progress.completed, progress.last_position
    )
    session = StudySession(
        learner=learner,
        enrolment=enrolment,
        lesson=lesson,
        progress=progress,
        started_at=now,
        last_accepted_at=now,
        last_position=start,
        ip=client_ip(request),
        user_agent=user_agent(request),
        auth_session=getattr(request, "auth_session", None),
    )
    session.face_due_at, session.face_failures = face_gate.carried_over(
        previous, face_gate.first_check_at(session, progress, now), now
    )
    session.save()
    # The page's heartbeat key (learning.hotpath): bound to this session and the sign-in that opened it, nothing
    # stored. Without a sign-in (a script calling the service) the page's beats go through the full stack.
    session.heartbeat_key = (
        page_key("study", session.pk, session.auth_session_id) if session.auth_session_id else ""
    )
    StudyRecord.objects.create(
        at=now,
        learner=learner,
        enrolment=enrolment,
        lesson=lesson,
        session=session,
        kind=StudyRecordKind.PERIOD_START,
        position=start,
        ip=session.ip,
        user_agent=session.user_agent,
    )
    return session


def _end_session(session: StudySession, *, now: dt.datetime, state: str) -> None:
    session.state = state
    session.ended_at = now
    session.save(update_fields=["state", "ended_at"])
    StudyRecord.objects.create(
        at=now,
        learner_id=session.learner_id,
        enrolment_id=session.enrolment_id,
        lesson_id=session.lesson_id,
        session=session,
        kind=StudyRecordKind.PERIOD_END,
        position=session.last_position,
        credited_seconds=session.credited_seconds,
        reasons=[state],
        ip=session.ip,
        user_agent=session.user_agent,
    )


@transaction.atomic
def study_session_close(*, learner: Any, session_id: int) -> StudySession:
    session = StudySession.objects.select_for_update().filter(pk=session_id, learner=learner).first()
    if session is None:
        raise NotFound("session_not_found", _("This study session does not exist."))
    if session.state == SessionState.ACTIVE:
        _end_session(session, now=timezone.now(), state=SessionState.CLOSED)
    return session


@transaction.atomic
def heartbeat_record(
    *,
    learner: Any,
    session_id: int,
    seq: int,
    position: float,
    playing: bool,
    visible: bool,
    focused: bool,
    rate: float,
    request: HttpRequest | None = None,
) -> HeartbeatResult:
    """One heartbeat (心跳) through the full stack: the session read and locked with everything the rules need,
    the rules' decision (learning.beats), its writes.

    Only the sign-in that opened the page (request.auth_session: its API token or browser session) reports on it:
    another user's, or another sign-in of the same learner, is refused (the hot path applies the same binding)."""
    now = timezone.now()
    today = study_day(now)
    # The session row is the lock: a learner has at most one active session (database constraint; opening one
    # locks the learner and waits for a running heartbeat), so two heartbeats never credit the same learner at once.
    state = beat_state_of_learner(session_id=session_id, learner_id=learner.pk, today=today)
    if state is None and not StudySession.objects.filter(pk=session_id).exists():
        raise NotFound("session_not_found", _("This study session does not exist."))
    signin = getattr(request, "auth_session", None)
    if state is None or signin is None or state.auth_session_id != signin.pk:
        raise PermissionDenied(
            "sign_in_mismatch",
            _(
                "This study page was opened by another sign-in: nothing is counted from it. Open the lesson again."
            ),
        )
    beat = Beat(seq, position, playing, visible, focused, rate)
    outcome = assess_beat(state, beat, now, today, Rules.from_settings())
    _beat_effects(state, outcome, now)
    connection = connections["default"]
    db.run(
        connection,
        beat_writes(
            state,
            outcome,
            today=today,
            ip=client_ip(request),
            user_agent=user_agent(request),
            asynchronous_commit=connection.vendor == "postgresql" and not settings.HEARTBEAT_WAIT_FOR_FLUSH,
        ),
    )
    result = outcome.result
    transaction.on_commit(lambda: metrics.heartbeat_counted(result.credited_seconds))
    return result


def _beat_effects(state: BeatState, outcome: BeatOutcome, now: dt.datetime) -> None:
    """The outcome's rare effects through the ORM, before its common writes (the order its records always had)."""
    for kind, evidence in outcome.flags:
        SuspiciousEvent.objects.create(
            learner_id=state.learner_id,
            enrolment_id=state.enrolment_id,
            session_id=state.session_id,
            kind=kind,
            evidence=evidence,
            at=now,
        )
    if outcome.end_session or outcome.face_sign_out:
        session = StudySession.objects.select_related("learner").get(pk=state.session_id)
        if outcome.face_sign_out:
            face_gate.face_sign_out(session, now=now, reason=outcome.face_sign_out)
        else:
            _end_session(session, now=now, state=outcome.end_session)
