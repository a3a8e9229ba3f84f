"""Heartbeats without the page stack (LRN-01 at scale): a WSGI entry in front of Django for the one request that
every playing learner sends every few seconds.

`POST /api/v1/study-sessions/{id}/heartbeats` with the page's heartbeat key (header `X-Study-Key`, handed out when
the session was opened through the authenticated API) is answered here: the body is validated by the API's own
schema, one query reads and locks the session together with the sign-in that opened it (learning.heartbeat_read),
the same crediting rules as the API run (crediting.heartbeat_apply), and the writes go in one batch. The key is a
secret of that one page, sent in a header no other site can set, so there is no CSRF to check. It is bound to the
sign-in that opened the page: the beat must also carry that sign-in's own credential (its bearer token, or its
session cookie, read as the full stack reads them), whose digest the same query compares with the digest the
sign-in is stored under (the session store itself is never read here).

Everything that is not the plain case is handed to the full Django stack untouched, which answers it exactly as
the API does: no key or a wrong one, no credential or another sign-in's (refused there), a malformed body, a
sign-in that has ended or was not seen for `HEARTBEAT_ACCOUNT_CHECK_SECONDS` (so the full account rules and the
session's idle clock are applied at least that often, and a browser session is kept alive while a video plays), an
inactive account, a session that is no longer playing, an enrolment that has ended, an overdue face check.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction
from django.http.cookie import parse_cookie
from django.utils import timezone, translation
from django.utils.translation import gettext
from pydantic import ConfigDict, ValidationError, create_model

from safetrain.accounts.models import SessionKind
from safetrain.accounts.services import password_expired
from safetrain.core.crypto import token_digest
from safetrain.core.dbbatch import WriteBatch, ensure_open
from safetrain.learning import crediting, face_gate, metrics
from safetrain.learning.api import HeartbeatIn
from safetrain.learning.heartbeat_read import locked_session
from safetrain.learning.models import EnrolmentStatus, SessionState

logger = logging.getLogger(__name__)
PATH = re.compile(r"/api/v1/study-sessions/(\d{1,18})/heartbeats")
MAX_BODY = 4096
HEADERS = [
    ("Content-Type", "application/json; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# The API's heartbeat body (learning.api.HeartbeatIn) as a plain pydantic model: the same fields and limits,
# without django-ninja's validator for reading ORM objects, which a JSON body never needs. A body it refuses goes
# to the full stack, which answers with the API's messages.
_Beat = create_model(
    "HeartbeatBody",
    __config__=ConfigDict(extra="ignore"),
    **{name: (field.annotation, field) for name, field in HeartbeatIn.model_fields.items()},
)


class _Delegate(Exception):
    """Not the plain case: roll back and let the full stack answer."""


class _Meta:
    """What the crediting code reads of a request (client_ip, user_agent): the WSGI environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ


def credential(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The sign-in credential of a request as the API's authentication reads it (accounts.apiauth): a bearer token
    if the request has an Authorization header of that scheme, else the session cookie; with the kind of sign-in
    it must belong to. None when there is neither."""
    header = environ.get("HTTP_AUTHORIZATION")
    if header:
        scheme, _space, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            return token, SessionKind.API
    cookies = environ.get("HTTP_COOKIE")
    if cookies:
        key = parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME)
        if key:
            return key, SessionKind.WEB
    return None


def _plain_case(session: Any, signin: Any, kind: str, now: Any, today: Any) -> bool:
    """Whether the fast path may answer: everything else goes to the full stack, which applies every rule."""
    enrolment = session.enrolment
    return not (
        signin.kind != kind  # (a browser session's key sent as a bearer token: the full stack decides)
        or signin.ended_at is not None
        or signin.last_seen_at is None
        or (now - signin.last_seen_at).total_seconds() > settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS
        or not signin.user_active
        # The account rules the API applies before anything else (accounts.apiauth._ready): an initial or
        # expired password, a sign-in face check not yet passed. The full stack refuses those beats.
        or signin.must_change_password
        or password_expired(signin)  # the same rule on the read's password_changed_at
        or (settings.FACE_CHECK_AT_LOGIN and signin.face_verified_at is None)
        or session.state != SessionState.ACTIVE
        or enrolment.status != EnrolmentStatus.ACTIVE
        or (enrolment.deadline and enrolment.deadline < today)
        or face_gate.overdue(session, now)
    )


def _credit(batch: WriteBatch, session: Any, beat: Any, now: Any, today: Any, environ: dict[str, Any]):
    return crediting.heartbeat_apply(
        batch,
        session,
        now=now,
        today=today,
        seq=beat.seq,
        position=beat.position,
        playing=beat.playing,
        visible=beat.visible,
        focused=beat.focused,
        rate=beat.rate,
        request=_Meta(environ),
    )


def _answer_atomic(connection, environ, session_id, key, signin, beat, now, today) -> dict[str, Any] | None:
    """Inside Django's transaction handling (SQLite, or a caller already in a transaction)."""
    try:
        with transaction.atomic():
            found = locked_session(
                session_id=session_id,
                today=today,
                key_digest=token_digest(key),
                credential_digest=token_digest(signin[0]),
                connection=connection,
            )
            if found is None or not _plain_case(*found, signin[1], now, today):
                raise _Delegate
            batch = WriteBatch(connection=connection)
            result = _credit(batch, found[0], beat, now, today, environ)
            batch.run(wait_for_flush=settings.HEARTBEAT_WAIT_FOR_FLUSH)
    except _Delegate:
        return None
    return result.__dict__


def _answer_postgresql(
    connection, environ, session_id, key, signin, beat, now, today
) -> dict[str, Any] | None:
    """PostgreSQL between requests (autocommit): the whole beat in two round trips, BEGIN with the locked read,
    then every write with the COMMIT. Django's connection stays in autocommit mode; ORM statements of the rare
    paths (a suspicious event, a quiz lookup) run inside this transaction. A failure before the writes were sent
    hands the beat to the full stack; after that it is an error (the player beats again)."""
    sent = False
    # ORM statements of this beat (a catalogue row loaded by the read, the rare paths' writes) must run in its
    # transaction: no health check may swap the connection under it. The read itself is the check: if the
    # connection is broken it fails and the full stack answers.
    connection.health_check_done = True
    try:
        found = locked_session(
            session_id=session_id,
            today=today,
            key_digest=token_digest(key),
            credential_digest=token_digest(signin[0]),
            begin=True,
            connection=connection,
        )
        raw = connection.connection  # the connection holding the transaction and its row locks
        if found is None or not _plain_case(*found, signin[1], now, today):
            _rollback(connection)
            return None
        batch = WriteBatch(connection=connection)
        result = _credit(batch, found[0], beat, now, today, environ)
        if (
            connection.connection is not raw
            or raw.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS
        ):
            sent = True  # what the rare paths wrote may have gone elsewhere: not to be run a second time
            raise OperationalError("the heartbeat's transaction was lost before its writes")
        sent = True
        batch.run(commit=True, wait_for_flush=settings.HEARTBEAT_WAIT_FOR_FLUSH)
    except BaseException as error:
        # Whatever failed, this connection starts afresh (nothing half-done, no doubt about what is prepared on
        # it); a failure before the writes were sent is the full stack's to answer, after that it is an error.
        _rollback(connection)
        connection.close()
        if sent or not isinstance(error, (psycopg.Error, DatabaseError)):
            raise
        return None
    return result.__dict__


def _rollback(connection: Any) -> None:
    raw = connection.connection
    if (
        raw is not None
        and not raw.closed
        and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    ):
        try:
            raw.execute("ROLLBACK")
        except psycopg.Error:
            connection.close()


def answer(
    environ: dict[str, Any], session_id: int, key: str, body: bytes, connection: Any
) -> dict[str, Any] | None:
    """The heartbeat's result, or None when the full stack has to answer (nothing was written then).
    `connection`: this thread's default database connection."""
    signin = credential(environ)
    if signin is None:
        return None  # no sign-in at all: the full stack refuses it
    try:
        beat = _Beat.model_validate_json(body)
    except ValidationError:
        return None
    now = timezone.now()
    today = crediting.study_day(now)
    if (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and ensure_open(connection).autocommit
    ):
        return _answer_postgresql(connection, environ, session_id, key, signin, beat, now, today)
    return _answer_atomic(connection, environ, session_id, key, signin, beat, now, today)


def _default_connection() -> Any:
    """connections["default"] as this thread holds it, without asgiref's check for a running event loop on every
    look-up (a fifth of a beat's connection handling): in a thread without one (a WSGI thread) asgiref keeps
    Django's connections in a plain threading.local, read here directly. Anything else (no connection yet in this
    thread, another asgiref) takes the ordinary look-up."""
    storage = getattr(connections._connections, "_storage", None)
    # (asyncio._get_running_loop: the same question as get_running_loop, answered with None instead of an error)
    if type(storage) is threading.local and asyncio._get_running_loop() is None:
        connection = getattr(storage, "default", None)
        if connection is not None:
            return connection
    return connections["default"]


def _tidy_connection(connection: Any) -> None:
    """connection.close_if_unusable_or_obsolete(), which is called only when it has something to do: the
    connection's autocommit is not its setting's, an error occurred on it, or it is past its age. Otherwise that
    method only marks the health check as not done, and so does this; the method itself first runs Django's
    check for a running event loop, a tenth of the fast path's connection handling."""
    # (never inside a caller's transaction, such as a test's: that connection is the caller's to keep)
    if connection.in_atomic_block:
        return
    if connection.connection is None:
        return
    close_at = connection.close_at
    if (
        connection.autocommit != connection.settings_dict["AUTOCOMMIT"]
        or connection.errors_occurred
        or (close_at is not None and time.monotonic() >= close_at)
    ):
        connection.close_if_unusable_or_obsolete()
    else:
        connection.health_check_done = False


class HeartbeatFastPath:
    """WSGI middleware: heartbeats with a page key are answered here, every other request goes to `app`."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = environ.get("HTTP_X_STUDY_KEY")
        match = PATH.fullmatch(environ.get("PATH_INFO", "")) if key else None
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.app(environ, start_response)
        if not 0 < length <= MAX_BODY:
            return self.app(environ, start_response)
        started = time.perf_counter()
        body = environ["wsgi.input"].read(length)
        # As Django does at the start and end of every request (close_old_connections): the database connection
        # is dropped when it is past its age (CONN_MAX_AGE) or broken. Nothing else of the request signals'
        # work applies here (no cache, no URL resolver, no query log).
        connection = _default_connection()
        _tidy_connection(connection)
        try:
            result = answer(environ, int(match.group(1)), key, body, connection)
            _tidy_connection(connection)
        except DatabaseError:
            _tidy_connection(connection)
            # Nothing was credited (the transaction rolled back): the player keeps its position and beats again.
            logger.exception("heartbeat failed")
            with translation.override(settings.LANGUAGE_CODE):
                error = {"code": "unavailable", "message": gettext("The service is busy. Please try again.")}
            return self._respond(start_response, "503 Service Unavailable", error)
        if result is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        metrics.heartbeat_counted(result["credited_seconds"])
        return self._respond(
            start_response, "200 OK", result, f"heartbeat;dur={(time.perf_counter() - started) * 1000:.1f}"
        )

    @staticmethod
    def _respond(
        start_response: Callable[..., Any], status: str, data: dict[str, Any], timing: str = "heartbeat"
    ) -> Iterable[bytes]:
        # (orjson: UTF-8 as it is, like json with ensure_ascii=False, in a tenth of the time)
        payload = orjson.dumps(data)
        start_response(
            status,
            [
                *HEADERS,
                # (the reply holds codes, no text: the same in every language)
                ("Content-Language", settings.LANGUAGE_CODE),
                *(
                    [("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}")]
                    if settings.SECURE_HSTS_SECONDS
                    else []
                ),
                ("Content-Length", str(len(payload))),
                # answered here, not by the full stack (and how long it took): for operators and tests
                ("Server-Timing", timing),
            ],
        )
        return [payload]
