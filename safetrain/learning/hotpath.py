"""The heartbeat's hot path (LRN-01 at scale): `POST /api/v1/study-sessions/{id}/heartbeats` with the page's key
(`X-Study-Key`) answered before the page stack (core.hotpath.dispatch), by the same rules as the API.

In one transaction: the session, locked, with the sign-in that opened the page, found by the digest of the
credential the beat carries (its bearer token or session cookie); the page key checked against that session and
sign-in; the sign-in gate (accounts.gate); the rules (learning.beats); the writes and the COMMIT. Everything that is
not the plain case goes, with nothing written, to the full stack, which answers it as the API does: a malformed
body, a wrong key, another sign-in's credential or none, a sign-in that ended, is idle, or was not seen for
`HEARTBEAT_ACCOUNT_CHECK_SECONDS` (so the full account rules run at least that often and keep a browser session
alive), an inactive account, a password to change, a face check at sign-in pending, a session no longer playing,
an ended enrolment, an overdue face check, any beat whose outcome needs the ORM (a suspicious event, the end of
the session), the beat that completes its lesson (whose quiz only the full stack reads), and a database failure
before the writes (a dropped connection: the full stack connects again). A failure at the writes or the COMMIT is
a 503 (core.hotpath.dispatch): the page beats again, never credited twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from pydantic import ValidationError

from safetrain.accounts.gate import hot_signin_problem
from safetrain.core.crypto import token_digest
from safetrain.core.hotpath.db import HotTransaction, Statement
from safetrain.core.hotpath.dispatch import HotRequest, body_model
from safetrain.core.hotpath.keys import page_key_matches
from safetrain.core.http import client_ip, user_agent
from safetrain.learning import metrics
from safetrain.learning.api import HeartbeatIn
from safetrain.learning.beats import Beat, HeartbeatResult, Rules, assess_beat, enrolment_ended, face_overdue
from safetrain.learning.crediting import study_day
from safetrain.learning.heartbeats import beat_state_of_signin, beat_writes
from safetrain.learning.models import SessionState

PATTERN = r"/api/v1/study-sessions/(\d{1,18})/heartbeats"

HeartbeatBody = body_model("HeartbeatBody", HeartbeatIn)


def heartbeat_hot(request: HotRequest, connection: Any) -> tuple[int, dict[str, Any]] | None:
    """The beat's answer, or None for the full stack (nothing written then)."""
    try:
        body = HeartbeatBody.model_validate_json(request.body)
    except ValidationError:
        return None
    beat = Beat(body.seq, body.position, body.playing, body.visible, body.focused, body.rate)
    now = timezone.now()
    # (a read that fails before any write is the full stack's to answer: core.hotpath.db.ReadFailed)
    with HotTransaction(connection) as tx:
        found = _plain_beat(tx, request, beat, now)
        if found is None:
            return None  # (rolled back: nothing was written)
        tx.execute_all(found[0])
        tx.commit()
    result = found[1]
    metrics.heartbeat_counted(result.credited_seconds)
    return 200, result.__dict__


def _plain_beat(
    tx: HotTransaction, request: HotRequest, beat: Beat, now: dt.datetime
) -> tuple[list[Statement], HeartbeatResult] | None:
    """The writes and the answer of a plain beat, or None: the beat is the full stack's."""
    secret, kind = request.credential
    session_id = int(request.args[0])
    today = study_day(now)
    found = beat_state_of_signin(
        tx, session_id=session_id, credential_digest=token_digest(secret), today=today
    )
    if found is None:
        return None
    state, signin = found
    if not page_key_matches(request.key, "study", session_id, signin.id):
        return None
    problem, touch = hot_signin_problem(signin, now=now, kind=kind)
    if problem:
        return None
    if state.state != SessionState.ACTIVE or enrolment_ended(state, today) or face_overdue(state, now):
        return None  # (the full stack ends the session or signs the learner out)
    outcome = assess_beat(state, beat, now, today, Rules.from_settings())
    if outcome.needs_orm or (state.quiz_due is None and outcome.result.completed):
        return None  # (the beat that completes a lesson: the full stack reads whether its quiz is due)
    statements = beat_writes(
        state,
        outcome,
        today=today,
        ip=client_ip(request),
        user_agent=user_agent(request),
        # (on PostgreSQL the read already set it: core.hotpath.db's pipelined transaction)
        asynchronous_commit=not tx.pipelined
        and tx.connection.vendor == "postgresql"
        and not settings.HEARTBEAT_WAIT_FOR_FLUSH,
    )
    return [*touch, *statements], outcome.result
