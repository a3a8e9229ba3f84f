"""The crediting rules of one heartbeat (学时认定, LRN-01..05, ANTI-01..04, FACE-01, FACE-03), as one pure decision.

`assess_beat(state, beat, now, today, rules)` reads only its arguments: the session with everything the rules
need (`BeatState`), the page's report (`Beat`) and the configured limits (`Rules`). It answers with a
`BeatOutcome`: the page's answer, the rows to write, and the rare effects that need the ORM (a suspicious event,
the end of the session, a face sign-out, the quiz question). Writing it is learning.heartbeats' job.

A beat credits min(wall-clock seconds since the previous accepted beat, the not-yet-watched part of the position
advance, interval + tolerance), and only while: the session is the learner's active one, the sequence number is
new, the enrolment runs, no face check is overdue, the page is visible and focused, the video plays at rate 1, the
position is possible and not ahead of what was watched plus the elapsed time, and the day's cap is not reached.
Everything else credits nothing; cheating patterns are flagged with their evidence.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

from safetrain.learning import intervals
from safetrain.learning.models import EnrolmentStatus, SessionState, StudyRecordKind, SuspiciousKind


@dataclass(frozen=True)
class Rules:
    interval: float  # HEARTBEAT_INTERVAL_SECONDS: the player beats this often
    tolerance: float  # HEARTBEAT_TOLERANCE_SECONDS: jitter allowed on top of the interval
    completion_tolerance: float  # COMPLETION_TOLERANCE_SECONDS: unwatched seconds allowed at a lesson's end

    @classmethod
    def from_settings(cls) -> Rules:
        from django.conf import settings

        return cls(
            settings.HEARTBEAT_INTERVAL_SECONDS,
            settings.HEARTBEAT_TOLERANCE_SECONDS,
            settings.COMPLETION_TOLERANCE_SECONDS,
        )


@dataclass(frozen=True)
class Beat:
    """What the page reports (learning.api.HeartbeatIn)."""

    seq: int
    position: float
    playing: bool
    visible: bool
    focused: bool
    rate: float


@dataclass(frozen=True)
class BeatState:
    """Everything the rules read: the study session, its progress row, its enrolment, the lesson's duration, the
    programme's limits and the learner's credit today."""

    session_id: int
    learner_id: int
    enrolment_id: int
    lesson_id: int
    auth_session_id: int | None
    state: str
    last_seq: int
    last_accepted_at: dt.datetime
    last_position: float
    last_clean_playing: bool
    time_carry: float
    credited_seconds: float
    face_due_at: dt.datetime | None
    progress_id: int
    watched: list[list[float]]
    furthest_position: float
    lesson_credited: float
    completed_at: dt.datetime | None
    enrolment_status: str
    deadline: dt.date | None
    duration: float
    daily_cap_seconds: float
    face_timeout_seconds: float
    today_credit: float
    # The lesson's course has a quiz this enrolment has not passed for it (QZ-01); None: not read (the hot path
    # reads it for a completed lesson only).
    quiz_due: bool | None = False


@dataclass
class HeartbeatResult:
    """The page's answer (learning.api.HeartbeatOut)."""

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


@dataclass
class BeatOutcome:
    result: HeartbeatResult
    record: dict[str, Any]  # the beat's StudyRecord row (the request adds ip and user_agent)
    session: dict[str, Any] | None = None  # the StudySession's new values (None: unchanged)
    progress: dict[str, Any] | None = None  # the LessonProgress row's new values (None: unchanged)
    daily_credit: float = 0.0  # seconds added to today's DailyCredit
    # The effects that need the ORM (the full stack only):
    flags: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # SuspiciousEvents (kind, evidence)
    end_session: str | None = None  # the state the session ends in
    face_sign_out: str | None = None  # the reason the learner is signed out (FACE-03)

    @property
    def needs_orm(self) -> bool:
        return bool(self.flags or self.end_session or self.face_sign_out)


def face_due(state: BeatState, now: dt.datetime) -> bool:
    return state.face_due_at is not None and now >= state.face_due_at


def face_overdue(state: BeatState, now: dt.datetime) -> bool:
    """Due for longer than the profile allows to pass it (FACE-03)."""
    return face_due(state, now) and (now - state.face_due_at).total_seconds() > state.face_timeout_seconds


def enrolment_ended(state: BeatState, today: dt.date) -> bool:
    return state.enrolment_status != EnrolmentStatus.ACTIVE or bool(state.deadline and state.deadline < today)


def lesson_gap(
    watched: list[list[float]], duration: float, completed: bool, completion_tolerance: float
) -> tuple[float, float | None]:
    """(seconds not yet watched, where the first part not yet watched starts): nothing once the lesson is
    complete; otherwise the first gap before the completion tolerance (LRN-05)."""
    if completed or duration <= 0:
        return 0.0, None
    start = intervals.first_gap(watched, 0.0, max(0.0, duration - completion_tolerance))
    if start is None:
        return 0.0, None
    return intervals.uncovered(watched, 0.0, duration), start


def assess_beat(state: BeatState, beat: Beat, now: dt.datetime, today: dt.date, rules: Rules) -> BeatOutcome:
    """The crediting rules applied to one beat of the session in `state` (read and locked by the caller)."""
    refused = _refused(state, beat, now, today)
    if refused is not None:
        return _outcome(state, beat, now, rules, *refused)
    return _credit(state, beat, now, rules)


def _evidence(beat: Beat) -> dict[str, Any]:
    return {
        "seq": beat.seq,
        "position": beat.position,
        "playing": beat.playing,
        "visible": beat.visible,
        "focused": beat.focused,
        "rate": beat.rate,
    }


def _refused(
    state: BeatState, beat: Beat, now: dt.datetime, today: dt.date
) -> tuple[list[str], list[tuple[str, dict]], str, str | None, str | None] | None:
    """A beat that credits nothing at all: (reasons, flags, next_action, end state, face sign-out reason)."""
    evidence = _evidence(beat)
    if state.state != SessionState.ACTIVE:
        # A replaced or closed page (ANTI-03): only a playing one is suspicious.
        flags = [(SuspiciousKind.STALE_SESSION, evidence)] if beat.playing else []
        return [state.state], flags, "signed_out", None, None
    if beat.seq <= state.last_seq:
        # A replayed or reordered beat (ANTI-04) is never counted twice.
        flags = [(SuspiciousKind.REPLAYED_SEQ, {**evidence, "last_seq": state.last_seq})]
        return ["replayed_seq"], flags, "", None, None
    if enrolment_ended(state, today):
        # The deadline passed or the enrolment was voided while the page was open (LRN-07).
        return ["enrolment_inactive"], [], "signed_out", SessionState.CLOSED, None
    if face_overdue(state, now):
        # FACE-03: the check asked for was not passed in time: playback stops and the learner is signed out.
        return ["face_check_timeout"], [], "signed_out", None, "timeout"
    return None


def _outcome(
    state: BeatState,
    beat: Beat,
    now: dt.datetime,
    rules: Rules,
    reasons: list[str],
    flags: list[tuple[str, dict]],
    next_action: str,
    end_session: str | None,
    face_sign_out: str | None,
) -> BeatOutcome:
    """A refused beat's outcome: its record, nothing credited, the session and progress rows unchanged."""
    ends_as = SessionState.FACE_FAILED if face_sign_out else end_session
    result = _result(state, rules, 0.0, ends_as or state.state, next_action, reasons)
    return BeatOutcome(
        result,
        _record(state, beat, now, 0.0, False, reasons),
        flags=flags,
        end_session=end_session,
        face_sign_out=face_sign_out,
    )


def _record(
    state: BeatState, beat: Beat, now: dt.datetime, credit: float, accepted: bool, reasons: list[str]
) -> dict[str, Any]:
    return {
        "at": now,
        "learner": state.learner_id,
        "enrolment": state.enrolment_id,
        "lesson": state.lesson_id,
        "session": state.session_id,
        "kind": StudyRecordKind.HEARTBEAT,
        "seq": beat.seq,
        "position": beat.position,
        "credited_seconds": credit,
        "accepted": accepted,
        "reasons": list(reasons),
    }


def _result(
    state: BeatState, rules: Rules, credit: float, session_state: str, next_action: str, reasons: list[str]
) -> HeartbeatResult:
    missing, start = lesson_gap(
        state.watched, state.duration, state.completed_at is not None, rules.completion_tolerance
    )
    return HeartbeatResult(
        round(credit, 3),
        round(state.lesson_credited, 3),
        state.furthest_position,
        state.completed_at is not None,
        session_state,
        next_action,
        list(reasons),
        round(missing, 1),
        None if start is None else math.floor(start * 10) / 10,  # never past the gap's start
    )


@dataclass(frozen=True)
class _Motion:
    """How far the page may honestly have got since the previous beat."""

    elapsed: float  # wall-clock seconds since the previous accepted beat
    reach: float  # how far playback can explain a position past `previous`
    valid: bool  # a position the video has
    clamped: float  # the position, never past the end
    ahead: bool  # past what was watched plus what playback explains: a seek forward


def _motion(state: BeatState, beat: Beat, now: dt.datetime, rules: Rules, due: bool) -> _Motion:
    elapsed = max(0.0, (now - state.last_accepted_at).total_seconds())
    valid = 0 <= beat.position <= state.duration + rules.tolerance
    clamped = min(beat.position, state.duration)  # nothing past the end is ever watched or credited
    # While a check is due, crediting is held at the due moment, but the page played on until a beat told it to
    # stop: it may honestly be as far past that point as the time since the check fell due (none of it credited).
    reach = max(elapsed, (now - state.face_due_at).total_seconds()) if due else elapsed
    limit = max(state.furthest_position, state.last_position) + reach + state.time_carry + rules.tolerance
    return _Motion(elapsed, reach, valid, clamped, valid and clamped > limit)


def _suspicions(
    state: BeatState, beat: Beat, motion: _Motion, rules: Rules
) -> tuple[list[str], list[tuple[str, dict]]]:
    """The reasons this beat's stretch is not clean, and what is flagged for review (ANTI-01, ANTI-04, LRN-02)."""
    evidence = {**_evidence(beat), "elapsed": round(motion.elapsed, 3)}
    reasons: list[str] = []
    flags: list[tuple[str, dict]] = []
    if not motion.valid:
        reasons.append("forged_position")
        flags.append((SuspiciousKind.FORGED_POSITION, {**evidence, "duration": state.duration}))
    elif motion.ahead:
        reasons.append("seek_forward")
        flags.append((SuspiciousKind.SEEK_FORWARD, {**evidence, "furthest": state.furthest_position}))
    if not beat.playing:
        reasons.append("paused")
    if beat.playing and not (beat.visible and beat.focused):
        reasons.append("hidden")
        flags.append((SuspiciousKind.HIDDEN, evidence))
    if beat.rate != 1:
        reasons.append("rate")
        flags.append((SuspiciousKind.RATE, evidence))
    if beat.playing and state.last_clean_playing and motion.elapsed < rules.interval / 3:
        flags.append(
            (SuspiciousKind.TOO_FAST, evidence)
        )  # logged, not refused: the wall clock still bounds it
    return reasons, flags


@dataclass(frozen=True)
class _Stretch:
    """What the stretch since the previous beat adds."""

    credit: float = 0.0
    watched: list[list[float]] | None = None  # the new watched intervals (None: unchanged)
    furthest: float = 0.0
    last_position: float = 0.0  # where the next stretch starts
    stop: float = 0.0  # where this one's credit stopped
    time_carry: float = 0.0
    capped: bool = False


def _stretch(state: BeatState, motion: _Motion, rules: Rules, due: bool) -> _Stretch:
    """The credit of a clean stretch (LRN-01..04): the unwatched part of [previous, position] that playback since
    the previous beat explains, within the interval, the day's cap and, while a face check is due, the time before
    it fell due (FACE-01)."""
    previous = state.last_position
    remaining = max(0.0, state.daily_cap_seconds - state.today_credit)
    budget = min(motion.elapsed + state.time_carry, rules.interval + rules.tolerance)
    if due:
        budget = min(budget, max(0.0, (state.face_due_at - state.last_accepted_at).total_seconds()))
    # A jump within watched ground (allowed: LRN-02): further than playback explains, yet not ahead of what was
    # watched. Where it jumped from is unknown, so nothing of the stretch is credited (an unwatched part it spans
    # would be paid unplayed), and the next stretch starts where the page now plays.
    jumped = motion.clamped - previous > motion.reach + state.time_carry + rules.tolerance
    end = previous if jumped else min(motion.clamped, previous + budget)
    watched, credit = intervals.take_uncovered(state.watched, previous, end, remaining)
    return _Stretch(
        credit=credit,
        watched=watched,
        furthest=max(state.furthest_position, end),
        # The next stretch starts where this one's credit stopped, so a late beat leaves no hole behind.
        last_position=motion.clamped if jumped else end,
        stop=end,
        # Jitter: up to the tolerance of unused time carries over to the next beat (none across a jump).
        time_carry=0.0
        if jumped
        else min(rules.tolerance, max(0.0, motion.elapsed + state.time_carry - (end - previous))),
        capped=remaining <= 0 or credit >= remaining - 0.001,
    )


def _credit(state: BeatState, beat: Beat, now: dt.datetime, rules: Rules) -> BeatOutcome:
    due = face_due(state, now)
    motion = _motion(state, beat, now, rules, due)
    reasons, flags = _suspicions(state, beat, motion, rules)
    clean = not reasons
    # The stretch since the previous beat was played if that beat reported clean playback; it is credited when
    # this beat is clean, or merely paused or ended (the last seconds before a pause count).
    stretch_ok = (
        motion.valid
        and not motion.ahead
        and beat.rate == 1
        and (clean or (reasons == ["paused"] and state.last_clean_playing))
    )
    next_action = ""
    if stretch_ok and motion.clamped > state.last_position:
        stretch = _stretch(state, motion, rules, due)
        if stretch.capped:
            reasons.append("daily_cap")
            next_action = "daily_cap_reached"
    else:
        moved = motion.valid and not motion.ahead
        last = motion.clamped if moved else state.last_position
        stretch = _Stretch(furthest=state.furthest_position, last_position=last, stop=state.last_position)
    last_position = stretch.last_position
    if due and motion.valid:
        # Nothing past the due moment is credited or counted as watched: the position stays where crediting
        # stopped, and the page goes back there after the check (no unwatched gap is left).
        last_position = min(motion.clamped, stretch.stop)
    if due:
        reasons.append("face_check_due")
        next_action = next_action or "verify_face"
    credit = stretch.credit
    watched = state.watched if stretch.watched is None else stretch.watched
    completed_at = state.completed_at
    floor = max(0.0, state.duration - rules.completion_tolerance)
    if completed_at is None and state.duration > 0 and intervals.uncovered(watched, 0, floor) <= 0.5:
        completed_at = now
    if completed_at is not None and not next_action and state.quiz_due:
        next_action = "quiz"  # QZ-01: the lesson's minutes count once its quiz is passed
    after = replace(
        state,
        watched=watched,
        furthest_position=stretch.furthest,
        lesson_credited=state.lesson_credited + credit,
        completed_at=completed_at,
    )
    return BeatOutcome(
        _result(after, rules, credit, state.state, next_action, reasons),
        _record(state, beat, now, credit, credit > 0 or not reasons or reasons == ["daily_cap"], reasons),
        session={
            "last_seq": beat.seq,
            "last_accepted_at": now,
            "last_position": last_position,
            "credited_seconds": state.credited_seconds + credit,
            "last_clean_playing": clean and not due,
            "time_carry": stretch.time_carry,
        },
        progress={
            "last_position": last_position,
            "furthest_position": stretch.furthest,
            "watched": watched,
            "credited_seconds": state.lesson_credited + credit,
            "completed_at": completed_at,
            "updated_at": now,
        },
        daily_credit=credit,
        flags=flags,
    )
