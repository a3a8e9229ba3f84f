"""The crediting engine (学时认定, LRN-01..05, ANTI-01..04): the server decides every credited second.

A heartbeat credits min(wall-clock seconds since the previous accepted heartbeat, the not-yet-watched part of
the position advance, the heartbeat interval + tolerance), and only while: the session is the learner's active
one, the sequence number is new, the page is visible and focused, the video plays at rate 1, the position is
possible and not ahead of what was watched plus the elapsed time, and the day's cap is not reached. Everything
else credits nothing; cheating patterns are logged as suspicious events with their evidence.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.catalog.models import Lesson, LessonKind
from safetrain.core.crypto import token_digest
from safetrain.core.dbbatch import WriteBatch
from safetrain.core.errors import DomainError, NotFound, PermissionDenied
from safetrain.core.http import client_ip, user_agent
from safetrain.learning import face_gate, intervals, metrics
from safetrain.learning.heartbeat_read import locked_session
from safetrain.learning.models import (
    DailyCredit,
    Enrolment,
    EnrolmentStatus,
    LessonProgress,
    SessionState,
    StudyRecord,
    StudyRecordKind,
    StudySession,
    SuspiciousEvent,
    SuspiciousKind,
)
from safetrain.learning.quizzes import quiz_passed, quiz_required
from safetrain.learning.selectors import active_enrolments, courses_of_enrolment, lesson_gap, resume_position


@dataclass
class HeartbeatResult:
    credited_seconds: float
    lesson_credited: float
    furthest_position: float
    completed: bool
    state: str
    next_action: str = ""
    reasons: list[str] = field(default_factory=list)
    # What is still to be watched (LRN-05): the page says it and offers to play it from `gap_start`.
    missing_seconds: float = 0.0
    gap_start: float | None = None


def study_day(now: dt.datetime) -> dt.date:
    """The learner's study day (LRN-04: the daily cap counts in the platform's time zone, Asia/Shanghai), whatever
    zone a request may have activated; the one rule for the API and the fast path."""
    return timezone.localdate(now, timezone.get_default_timezone())


def daily_cap_seconds(enrolment: Enrolment) -> int:
    programme = enrolment.programme
    return programme.profile.daily_cap_class_hours * programme.setting("class_hour_minutes") * 60


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
    # The page's heartbeat key (learning.fastpath): shown once, only its digest is kept.
    session.heartbeat_key = secrets.token_urlsafe(32)
    session.key_digest = token_digest(session.heartbeat_key)
    session.face_due_at, session.face_failures = face_gate.carried_over(
        previous, face_gate.first_check_at(session, progress, now), now
    )
    session.save()
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


def _flag(session: StudySession, kind: str, evidence: dict[str, Any], now: dt.datetime) -> None:
    SuspiciousEvent.objects.create(
        learner_id=session.learner_id,
        enrolment_id=session.enrolment_id,
        session=session,
        kind=kind,
        evidence=evidence,
        at=now,
    )


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
    """One heartbeat in three round trips on PostgreSQL: the session, its progress row and today's credit read and
    locked in one query, then every write in one batch, then the commit (the rare cheating and sign-out paths write
    more).

    Only the sign-in that opened the page (request.auth_session: its API token or browser session) reports on it:
    another user's, or another sign-in of the same learner, is refused (the fast path applies the same binding)."""
    now = timezone.now()
    today = study_day(now)
    # The session row is the lock: a learner has at most one active session (database constraint; opening one
    # locks the learner and waits for a running heartbeat), so two heartbeats never credit the same learner at once.
    found = locked_session(session_id=session_id, today=today, learner_id=learner.pk)
    session = found[0] if found else None
    if session is None and not StudySession.objects.filter(pk=session_id).exists():
        raise NotFound("session_not_found", _("This study session does not exist."))
    signin = getattr(request, "auth_session", None)
    if session is None or signin is None or session.auth_session_id != signin.pk:
        raise PermissionDenied(
            "sign_in_mismatch",
            _(
                "This study page was opened by another sign-in: nothing is counted from it. Open the lesson again."
            ),
        )
    batch = WriteBatch()
    result = heartbeat_apply(
        batch,
        session,
        now=now,
        today=today,
        seq=seq,
        position=position,
        playing=playing,
        visible=visible,
        focused=focused,
        rate=rate,
        request=request,
    )
    batch.run(wait_for_flush=settings.HEARTBEAT_WAIT_FOR_FLUSH)
    transaction.on_commit(lambda: metrics.heartbeat_counted(result.credited_seconds))
    return result


def heartbeat_apply(
    batch: WriteBatch,
    session: StudySession,
    *,
    now: dt.datetime,
    today: dt.date,
    seq: int,
    position: float,
    playing: bool,
    visible: bool,
    focused: bool,
    rate: float,
    request: HttpRequest | None,
) -> HeartbeatResult:
    """The crediting rules applied to one heartbeat of a session read and locked with its progress row: the
    writes go into `batch` (the caller runs it in the same transaction). Used by the API and the fast path."""
    progress = session.progress
    evidence = {
        "seq": seq,
        "position": position,
        "playing": playing,
        "visible": visible,
        "focused": focused,
        "rate": rate,
    }
    reasons: list[str] = []
    credit = 0.0
    next_action = ""

    def record(accepted: bool) -> None:
        batch.insert(
            StudyRecord,
            at=now,
            learner=session.learner_id,
            enrolment=session.enrolment_id,
            lesson=session.lesson_id,
            session=session.pk,
            kind=StudyRecordKind.HEARTBEAT,
            seq=seq,
            position=position,
            credited_seconds=credit,
            accepted=accepted,
            reasons=reasons,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )

    def result(state: str) -> HeartbeatResult:
        gap = lesson_gap(progress.watched, session.lesson.duration_seconds, progress.completed)
        return HeartbeatResult(
            round(credit, 3),
            round(progress.credited_seconds, 3),
            progress.furthest_position,
            progress.completed,
            state,
            next_action,
            reasons,
            round(gap.missing, 1),
            None if gap.start is None else math.floor(gap.start * 10) / 10,  # never past the gap's start
        )

    if session.state != SessionState.ACTIVE:
        reasons.append(session.state)
        if playing:
            _flag(session, SuspiciousKind.STALE_SESSION, evidence, now)
        record(False)
        next_action = "signed_out"
        return result(session.state)
    if seq <= session.last_seq:
        reasons.append("replayed_seq")
        _flag(session, SuspiciousKind.REPLAYED_SEQ, {**evidence, "last_seq": session.last_seq}, now)
        record(False)
        return result(session.state)

    enrolment = session.enrolment
    if enrolment.status != EnrolmentStatus.ACTIVE or (enrolment.deadline and enrolment.deadline < today):
        # The deadline passed or the enrolment was voided while the page was open (LRN-07).
        _end_session(session, now=now, state=SessionState.CLOSED)
        reasons.append("enrolment_inactive")
        record(False)
        next_action = "signed_out"
        return result(session.state)

    if face_gate.overdue(session, now):
        # FACE-03: the check asked for was not passed in time: playback stops and the learner is signed out.
        face_gate.face_sign_out(session, now=now, reason="timeout")
        reasons.append("face_check_timeout")
        record(False)
        next_action = "signed_out"
        return result(session.state)

    interval = settings.HEARTBEAT_INTERVAL_SECONDS
    tolerance = settings.HEARTBEAT_TOLERANCE_SECONDS
    duration = session.lesson.duration_seconds
    elapsed = max(0.0, (now - session.last_accepted_at).total_seconds())
    face_due = face_gate.due(session, now)
    # While a face check is due, only the time before it fell due can be credited (FACE-01).
    face_budget = (
        max(0.0, (session.face_due_at - session.last_accepted_at).total_seconds()) if face_due else None
    )
    previous = session.last_position
    evidence["elapsed"] = round(elapsed, 3)
    was_clean_playing = session.last_clean_playing
    session.last_seq = seq
    session.last_accepted_at = now

    valid = 0 <= position <= duration + tolerance
    clamped = min(position, duration)  # nothing past the end is ever watched or credited
    # How far the page can have played since the point crediting goes on from. While a check is due that point is
    # held at the due moment (nothing after it counts), but the page played on until a beat told it to stop: it may
    # honestly be as far past that point as the time since the check fell due (bounded by the face-check time
    # limit, and none of it is credited or counted as watched). Further than that is still a seek forward.
    reach = max(elapsed, (now - session.face_due_at).total_seconds()) if face_due else elapsed
    ahead = (
        valid and clamped > max(progress.furthest_position, previous) + reach + session.time_carry + tolerance
    )
    if not valid:
        reasons.append("forged_position")
        _flag(session, SuspiciousKind.FORGED_POSITION, {**evidence, "duration": duration}, now)
    elif ahead:
        reasons.append("seek_forward")
        _flag(session, SuspiciousKind.SEEK_FORWARD, {**evidence, "furthest": progress.furthest_position}, now)
    if not playing:
        reasons.append("paused")
    if playing and not (visible and focused):
        reasons.append("hidden")
        _flag(session, SuspiciousKind.HIDDEN, evidence, now)
    if rate != 1:
        reasons.append("rate")
        _flag(session, SuspiciousKind.RATE, evidence, now)
    if playing and was_clean_playing and elapsed < interval / 3:
        _flag(session, SuspiciousKind.TOO_FAST, evidence, now)

    clean_now = not reasons
    credit_stop = previous
    # The stretch since the previous beat was played if the previous beat reported clean playback; it is
    # credited when this beat is clean, or merely paused or ended (the last seconds before a pause count).
    stretch_ok = (
        valid and not ahead and rate == 1 and (clean_now or (reasons == ["paused"] and was_clean_playing))
    )
    if stretch_ok and clamped > previous:
        remaining = max(0.0, daily_cap_seconds(session.enrolment) - session.today_credit)
        budget = min(elapsed + session.time_carry, interval + tolerance)
        if face_budget is not None:
            budget = min(budget, face_budget)
        # A jump within watched ground (allowed: LRN-02): the position is further past `previous` than playback
        # since it can explain, yet not ahead of what was watched. Where the page jumped from is unknown, so
        # nothing of the stretch is credited (an unwatched part it spans, such as the gap a session starts at,
        # would otherwise be paid without being played), and the next stretch starts where the page now plays.
        jumped = clamped - previous > reach + session.time_carry + tolerance
        end = previous if jumped else min(clamped, previous + budget)
        progress.watched, credit = intervals.take_uncovered(progress.watched, previous, end, remaining)
        if remaining <= 0 or credit >= remaining - 0.001:
            reasons.append("daily_cap")
            next_action = "daily_cap_reached"
        if credit > 0:
            progress.credited_seconds += credit
            session.credited_seconds += credit
            batch.add_to(
                DailyCredit,
                unique=("learner", "enrolment", "day"),
                key={"learner": session.learner_id, "enrolment": session.enrolment_id, "day": today},
                amounts={"seconds": credit},
                defaults={"cancelled_seconds": 0.0},
            )
        # Jitter: up to the tolerance of unused time carries over to the next beat (none across a jump).
        session.time_carry = (
            0.0 if jumped else min(tolerance, max(0.0, elapsed + session.time_carry - (end - previous)))
        )
        progress.furthest_position = max(progress.furthest_position, end)
        # The next stretch starts where this one's credit stopped, so a late beat leaves no hole behind; after a
        # jump it starts where the page jumped to (held at the due moment below while a face check is due).
        session.last_position = clamped if jumped else end
        credit_stop = end
    else:
        session.time_carry = 0.0
        if valid and not ahead:
            session.last_position = clamped
    if face_due and valid:
        # While a check is due nothing past the due moment is credited or counted as watched: the position stays
        # where crediting stopped, and the page goes back there after the check (no unwatched gap is left).
        session.last_position = min(clamped, credit_stop)
    session.last_clean_playing = clean_now and not face_due
    if face_due:
        reasons.append("face_check_due")
        next_action = next_action or "verify_face"
    floor = max(0.0, duration - settings.COMPLETION_TOLERANCE_SECONDS)
    if (
        progress.completed_at is None
        and duration > 0
        and intervals.uncovered(progress.watched, 0, floor) <= 0.5
    ):
        progress.completed_at = now
    progress.last_position = session.last_position
    batch.update(
        LessonProgress,
        progress.pk,
        last_position=progress.last_position,
        furthest_position=progress.furthest_position,
        watched=progress.watched,
        credited_seconds=progress.credited_seconds,
        completed_at=progress.completed_at,
        updated_at=now,
    )
    if (
        progress.completed
        and not next_action
        and quiz_required(session.lesson)
        and not quiz_passed(session.enrolment_id, session.lesson_id)
    ):
        next_action = "quiz"  # QZ-01: the lesson's minutes count once its quiz is passed
    batch.update(
        StudySession,
        session.pk,
        last_seq=session.last_seq,
        last_accepted_at=session.last_accepted_at,
        last_position=session.last_position,
        credited_seconds=session.credited_seconds,
        last_clean_playing=session.last_clean_playing,
        time_carry=session.time_carry,
    )
    record(credit > 0 or not reasons or reasons == ["daily_cap"])
    return result(session.state)
