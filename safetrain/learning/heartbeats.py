"""A heartbeat's one read and its writes (LRN-01): what learning.beats.assess_beat decides on, and what it decided.

The read is one SELECT, built once per database from the models' metadata (core.hotpath.db): the study session and
its progress row, locked (FOR UPDATE OF s, p on PostgreSQL), with the enrolment, the lesson's video duration, the
programme's and its region profile's limits, the learner's credit today and, on the hot path, the sign-in that
opened the page. The common writes (the study record, the progress and session rows, today's credit) are
core.hotpath.db statements; the rare effects (suspicious events, the end of the session, a face sign-out, the quiz
question) go through the ORM, on the full stack only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connections

from safetrain.accounts.gate import SigninState, signin_columns, signin_state
from safetrain.accounts.models import AuthSession, User
from safetrain.catalog.models import Chapter, Lesson, LessonKind, Programme, RegionProfile, Video
from safetrain.core.hotpath import db
from safetrain.learning.beats import BeatOutcome, BeatState
from safetrain.learning.models import (
    DailyCredit,
    Enrolment,
    LessonProgress,
    QuizAttempt,
    QuizQuestion,
    StudyRecord,
    StudySession,
)

# The columns of BeatState, in its order: (alias, model, field).
_STATE = (
    ("s", StudySession, "id"),
    ("s", StudySession, "learner"),
    ("s", StudySession, "enrolment"),
    ("s", StudySession, "lesson"),
    ("s", StudySession, "auth_session"),
    ("s", StudySession, "state"),
    ("s", StudySession, "last_seq"),
    ("s", StudySession, "last_accepted_at"),
    ("s", StudySession, "last_position"),
    ("s", StudySession, "last_clean_playing"),
    ("s", StudySession, "time_carry"),
    ("s", StudySession, "credited_seconds"),
    ("s", StudySession, "face_due_at"),
    ("p", LessonProgress, "id"),
    ("p", LessonProgress, "watched"),
    ("p", LessonProgress, "furthest_position"),
    ("p", LessonProgress, "credited_seconds"),
    ("p", LessonProgress, "completed_at"),
    ("e", Enrolment, "status"),
    ("e", Enrolment, "deadline"),
)
# What the limits are computed from (see _limits).
_LIMITS = (
    ("l", Lesson, "kind"),
    ("v", Video, "duration_seconds"),
    ("g", Programme, "class_hour_minutes"),
    ("r", RegionProfile, "class_hour_minutes"),
    ("r", RegionProfile, "daily_cap_class_hours"),
    ("r", RegionProfile, "face_timeout_seconds"),
)


class _Read:
    """The SELECT of one database vendor and one way in (by learner, or by the sign-in's credential)."""

    def __init__(self, connection: Any, by_credential: bool, asynchronous_commit: bool = False) -> None:
        table = db.table

        def col(alias: str, model: Any, name: str) -> str:
            return db.column(model, name, alias)

        S, P, E, D = StudySession, LessonProgress, Enrolment, DailyCredit
        credit = (
            f"COALESCE((SELECT SUM({col('d', D, 'seconds')}) FROM {table(D)} d "
            f"WHERE {col('d', D, 'learner')} = {col('s', S, 'learner')} AND {col('d', D, 'day')} = %s), 0)"
        )
        # QZ-01: the lesson's course has a quiz and this enrolment has not passed the lesson's yet (the same rule as
        # learning.quizzes.quiz_required and quiz_passed), so a completed lesson asks for it.
        Q, A = QuizQuestion, QuizAttempt
        quiz_due = (
            f"(EXISTS (SELECT 1 FROM {table(Q)} q JOIN {table(Chapter)} c "
            f"ON {col('c', Chapter, 'course')} = {col('q', Q, 'course')} "
            f"WHERE {col('c', Chapter, 'id')} = {col('l', Lesson, 'chapter')} AND {col('q', Q, 'is_active')}) "
            f"AND NOT EXISTS (SELECT 1 FROM {table(A)} qa WHERE {col('qa', A, 'enrolment')} = {col('s', S, 'enrolment')} "
            f"AND {col('qa', A, 'lesson')} = {col('s', S, 'lesson')} AND {col('qa', A, 'passed')}))"
        )
        if by_credential:
            # The hot path asks only for a lesson already completed (a fifth of its read's cost otherwise): the beat
            # that completes one goes to the full stack (learning.hotpath).
            quiz_due = f"CASE WHEN {col('p', P, 'completed_at')} IS NOT NULL THEN {quiz_due} END"
        columns: list[db.Column | str] = [db.Column(*part) for part in (*_STATE, *_LIMITS)]
        if by_credential:
            columns += signin_columns("a", "u")
        # The hot path's transaction commits without waiting for the disk (HEARTBEAT_WAIT_FOR_FLUSH), set by its read.
        self.prefix = ["set_config('synchronous_commit', 'off', true)"] if asynchronous_commit else []
        self.row = db.Row([*self.prefix, *columns, quiz_due, credit])
        joins = [
            f"JOIN {table(P)} p ON {col('p', P, 'id')} = {col('s', S, 'progress')}",
            f"JOIN {table(E)} e ON {col('e', E, 'id')} = {col('s', S, 'enrolment')}",
            f"JOIN {table(Lesson)} l ON {col('l', Lesson, 'id')} = {col('s', S, 'lesson')}",
            f"LEFT JOIN {table(Video)} v ON {col('v', Video, 'id')} = {col('l', Lesson, 'video')}",
            f"JOIN {table(Programme)} g ON {col('g', Programme, 'id')} = {col('e', E, 'programme')}",
            f"JOIN {table(RegionProfile)} r ON {col('r', RegionProfile, 'id')} = {col('g', Programme, 'profile')}",
        ]
        if by_credential:
            # Only the sign-in that opened the page, with its own credential, and only for its own user.
            joins += [
                f"JOIN {table(AuthSession)} a ON {col('a', AuthSession, 'id')} = {col('s', S, 'auth_session')}",
                f"JOIN {table(User)} u ON {col('u', User, 'id')} = {col('a', AuthSession, 'user')} "
                f"AND {col('u', User, 'id')} = {col('s', S, 'learner')}",
            ]
            where = f"{col('s', S, 'id')} = %s AND {col('a', AuthSession, 'key_digest')} = %s"
        else:
            where = f"{col('s', S, 'id')} = %s AND {col('s', S, 'learner')} = %s"
        self.sql = f"SELECT {self.row.sql} FROM {table(S)} s {' '.join(joins)} WHERE {where}"
        if connection.features.has_select_for_update_of:
            self.sql += " FOR UPDATE OF s, p"
        # (SQLite has no row locks: its write transactions lock the database)

    def load(self, connection: Any, row: tuple | None) -> tuple[BeatState, SigninState | None] | None:
        values = self.row.load(connection, row)
        if values is None:
            return None
        values = values[len(self.prefix) :]
        n = len(_STATE)
        kind, duration, own_minutes, profile_minutes, cap_hours, face_timeout = values[n : n + len(_LIMITS)]
        # Programme.setting: the programme's own value where it overrides the profile's.
        minutes = own_minutes if own_minutes not in (None, "") else profile_minutes
        state = BeatState(
            *values[:n],
            duration=(duration or 0) if kind == LessonKind.VIDEO else 0,  # as Lesson.duration_seconds
            daily_cap_seconds=cap_hours * minutes * 60,
            face_timeout_seconds=face_timeout,
            today_credit=float(values[-1] or 0),
            quiz_due=None if values[-2] is None else bool(values[-2]),
        )
        signin = values[n + len(_LIMITS) : -2]
        return state, signin_state(signin) if signin else None


_reads: dict[tuple[str, bool, bool], _Read] = {}


def _read(connection: Any, by_credential: bool, asynchronous_commit: bool = False) -> _Read:
    key = (connection.vendor, by_credential, asynchronous_commit)
    query = _reads.get(key)
    if query is None:
        query = _reads[key] = _Read(connection, by_credential, asynchronous_commit)
    return query


def beat_state_of_learner(
    *, session_id: int, learner_id: int, today: dt.date, using: str = "default"
) -> BeatState | None:
    """The learner's session, locked with its progress row, in the caller's transaction (the API path)."""
    connection = connections[using]
    query = _read(connection, by_credential=False)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [today, session_id, learner_id])
        found = query.load(connection, cursor.fetchone())
    return None if found is None else found[0]


def beat_state_of_signin(
    tx: db.HotTransaction, *, session_id: int, credential_digest: str, today: dt.date
) -> tuple[BeatState, SigninState] | None:
    """The session, locked with its progress row, and the sign-in that opened it, found by the digest of that
    sign-in's credential (a bearer token or a session key): another sign-in's credential finds nothing."""
    asynchronous = tx.pipelined and not settings.HEARTBEAT_WAIT_FOR_FLUSH
    query = _read(tx.connection, by_credential=True, asynchronous_commit=asynchronous)
    found = query.load(tx.connection, tx.fetch_one(query.sql, [today, session_id, credential_digest]))
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


# Set first in a beat's transaction unless HEARTBEAT_WAIT_FOR_FLUSH: its COMMIT does not wait for the WAL flush.
ASYNCHRONOUS_COMMIT: db.Statement = ("SET LOCAL synchronous_commit TO OFF", (), ())


def beat_writes(
    state: BeatState,
    outcome: BeatOutcome,
    *,
    today: dt.date,
    ip: str,
    user_agent: str,
    asynchronous_commit: bool,
) -> list[db.Statement]:
    """The outcome's common writes, in the order the rules always wrote them."""
    statements = [ASYNCHRONOUS_COMMIT] if asynchronous_commit else []
    if outcome.daily_credit > 0:
        statements.append(
            db.add_to(
                DailyCredit,
                unique=("learner", "enrolment", "day"),
                key={"learner": state.learner_id, "enrolment": state.enrolment_id, "day": today},
                amounts={"seconds": outcome.daily_credit},
                defaults={"cancelled_seconds": 0.0},
            )
        )
    if outcome.progress is not None:
        statements.append(db.update(LessonProgress, state.progress_id, **outcome.progress))
    if outcome.session is not None:
        statements.append(db.update(StudySession, state.session_id, **outcome.session))
    statements.append(db.insert(StudyRecord, **outcome.record, ip=ip, user_agent=user_agent))
    return statements
