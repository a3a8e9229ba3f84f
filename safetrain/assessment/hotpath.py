"""Exam answers on the hot path (EXM-04 at exam-day scale): `PUT /api/v1/attempts/{id}/answers/{question}` with the
paper's key (header X-Exam-Key, handed to the sign-in that opened the paper) is answered here, before the page
stack (safetrain.core.hotpath.dispatch).

In one transaction: one SELECT reads the attempt, locked, with the question's item of the paper (only that item:
the paper is large) and the sign-in whose credential the request carries (accounts.gate), the attempt's learner
being that sign-in's user; the key must be that paper's for that sign-in; the gate must let the sign-in go on;
`exams.answer_decide`, the full stack's own decision, must save the answer. Then one upsert of the answer and the
COMMIT, synchronous like every other commit (never `synchronous_commit` off): an answer is acknowledged only once
it is on disk, and on the standby where there is one.

Anything else is handed, untouched and with nothing written, to the full stack, which answers with the API's status
and message: no row (another candidate's paper, an unknown sign-in), a wrong key, a gate problem, a sign-in not seen
for HEARTBEAT_ACCOUNT_CHECK_SECONDS (the hot path never refreshes last_seen_at: so the full stack keeps the sign-in
alive and applies every account rule at least that often), a submitted paper, the time up (the full stack submits
it), an identity check due, a question not on the paper, a value the question cannot take, a malformed body.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.utils import timezone
from pydantic import ValidationError

from safetrain.accounts.gate import hot_signin_problem, signin_columns, signin_state
from safetrain.accounts.models import AuthSession, User
from safetrain.assessment import metrics
from safetrain.assessment.api import AnswerIn, answer_out_json
from safetrain.assessment.exams import ANSWER_OPEN, answer_decide
from safetrain.assessment.models import ExamAnswer, ExamAttempt
from safetrain.core.crypto import token_digest
from safetrain.core.errors import DomainError
from safetrain.core.hotpath import db
from safetrain.core.hotpath.dispatch import HotRequest, body_model
from safetrain.core.hotpath.keys import page_key_matches
from safetrain.learning.models import Enrolment

_Body = body_model("AnswerBody", AnswerIn)

_ATTEMPT = [db.Column("a", ExamAttempt, name) for name in ("submitted_at", "deadline", "face_due_at")]
_SIGNIN = len(_ATTEMPT) + 1  # where the sign-in's values start: after the attempt's and the item


def _item_sql(vendor: str) -> str:
    """The paper's item of one question (JSON), found in the database: the whole paper never leaves it."""
    items = "a." + db.column(ExamAttempt, "items")
    if vendor == "postgresql":
        path = "'$[*] ? (@.question == $q)'"
        return f"jsonb_path_query_first({items}, {path}, jsonb_build_object('q', %s::bigint))"
    return f"(SELECT j.value FROM json_each({items}) AS j WHERE json_extract(j.value, '$.question') = %s)"


@cache
def _read(vendor: str, lock: bool) -> tuple[db.Row, str]:
    """The attempt (locked), the item, and the sign-in; parameters: question id, credential digest, attempt id."""
    row = db.Row([*_ATTEMPT, _item_sql(vendor), *signin_columns("s", "u")])
    sql = (
        f"SELECT {row.sql} FROM {db.table(ExamAttempt)} a "
        f"JOIN {db.table(Enrolment)} e ON e.{db.column(Enrolment, 'id')} = a.{db.column(ExamAttempt, 'enrolment')} "
        f"JOIN {db.table(AuthSession)} s ON s.{db.column(AuthSession, 'key_digest')} = %s "
        f"JOIN {db.table(User)} u ON u.{db.column(User, 'id')} = s.{db.column(AuthSession, 'user')} "
        f"WHERE a.{db.column(ExamAttempt, 'id')} = %s AND e.{db.column(Enrolment, 'learner')} = u.{db.column(User, 'id')}"
        # Only the attempt row: saving an answer and scoring the paper (attempt_submit) take turns on it.
        + (" FOR UPDATE OF a" if lock else "")
    )
    return row, sql


def answer_upsert(attempt_id: int, question_id: int, stored: list[Any], now: Any) -> db.Statement:
    """The answer as `answer_save` leaves it: a new row scored nothing yet, or the value and its time replaced."""
    return db.upsert(
        ExamAnswer,
        unique=("attempt", "question"),
        replace=("value", "saved_at"),
        attempt=attempt_id,
        question=question_id,
        value=stored,
        saved_at=now,
        correct=None,
        score=None,
    )


class _State:
    """The locked attempt as answer_decide reads it."""

    __slots__ = ("submitted_at", "deadline", "face_due_at")

    def __init__(self, submitted_at: Any, deadline: Any, face_due_at: Any) -> None:
        self.submitted_at, self.deadline, self.face_due_at = submitted_at, deadline, face_due_at


def _body_value(body: bytes) -> list[Any] | None:
    try:
        data = json.loads(body)  # (as django-ninja parses it)
        return _Body.model_validate(data).value if isinstance(data, dict) else None
    except (ValueError, ValidationError):
        return None


def _item(value: Any) -> dict[str, Any] | None:
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def exam_answer(request: HotRequest, connection: Any) -> tuple[int, dict[str, Any]] | None:
    value = _body_value(request.body)
    if value is None:
        return None
    attempt_id, question_id = int(request.args[0]), int(request.args[1])
    secret, kind = request.credential
    row, sql = _read(connection.vendor, connection.features.has_select_for_update_of)
    with db.HotTransaction(connection) as tx:
        values = row.load(connection, tx.fetch_one(sql, [question_id, token_digest(secret), attempt_id]))
        if values is None:
            return None
        now = timezone.now()  # after the lock: what the full stack would see
        signin = signin_state(values[_SIGNIN:])
        if not page_key_matches(request.key, "exam", attempt_id, signin.id):
            return None
        problem, touch = hot_signin_problem(signin, now=now, kind=kind)
        if problem:
            return None
        try:
            decision = answer_decide(
                _State(*values[: len(_ATTEMPT)]), _item(values[len(_ATTEMPT)]), value, now
            )
        except DomainError:
            return None
        if decision.state != ANSWER_OPEN or decision.face_check_due:
            return None
        tx.execute_all([*touch, answer_upsert(attempt_id, question_id, decision.stored, now)])
        tx.commit()
    metrics.ANSWERS_SAVED.inc()
    return 200, answer_out_json(question_id, now)
