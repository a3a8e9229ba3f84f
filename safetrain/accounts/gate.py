"""The sign-in gate: whether a signed-in session (a browser session or an API token) may go on, decided once for the
pages' middleware, the API's authentication and the hot paths (ACC-03 password rules, ACC-04 idle sign-out, ACC-05
one active session, FACE-01 the learners' face check at sign-in).

`signin_problem` is a pure decision on a `SigninState`, which the full stack builds from its model instances
(`SigninState.of`) and a hot path from its own SELECT (`signin_columns` in its `Row`, then `signin_state`). Each
caller maps the problem to its own answer: a redirect, the API's 401/403, or the full stack (a hot path).
Two-factor sign-in (NAT-07) is not here: it needs the OTP device of the request, which only the full stack has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from safetrain.accounts.models import AuthSession, Role, SessionKind, User
from safetrain.core.hotpath import db
from safetrain.core.hotpath.db import Column

# auth_session_touch refreshes last_seen_at at most this often, so it trails the last request by up to this much.
TOUCH_SECONDS = 60

# The problems, in the order they are checked. "kind", "ended", "idle" and "inactive" end the request's sign-in;
# "password" and "face_check" leave it open to what clears them; "stale" is for the hot paths only.
KIND, ENDED, IDLE, INACTIVE, PASSWORD, FACE_CHECK, STALE = (
    "kind",
    "ended",
    "idle",
    "inactive",
    "password",
    "face_check",
    "stale",
)


@dataclass(frozen=True)
class SigninState:
    """What the gate needs of one sign-in (AuthSession) and its user."""

    id: int
    kind: str
    ended_at: dt.datetime | None
    last_seen_at: dt.datetime
    face_verified_at: dt.datetime | None
    user_id: int
    user_active: bool
    must_change_password: bool
    password_changed_at: dt.datetime | None

    @classmethod
    def of(cls, session: AuthSession, user: Any = None) -> SigninState:
        user = session.user if user is None else user
        return cls(
            id=session.pk,
            kind=session.kind,
            ended_at=session.ended_at,
            last_seen_at=session.last_seen_at,
            face_verified_at=session.face_verified_at,
            user_id=session.user_id,
            user_active=user.is_active,
            must_change_password=user.must_change_password,
            password_changed_at=user.password_changed_at,
        )


def signin_columns(session_alias: str, user_alias: str) -> list[Column]:
    """The columns `signin_state` reads, in its order: for a SELECT joining accounts_authsession and its user."""
    return [
        Column(session_alias, AuthSession, "id"),
        Column(session_alias, AuthSession, "kind"),
        Column(session_alias, AuthSession, "ended_at"),
        Column(session_alias, AuthSession, "last_seen_at"),
        Column(session_alias, AuthSession, "face_verified_at"),
        Column(session_alias, AuthSession, "user"),
        Column(user_alias, User, "is_active"),
        Column(user_alias, User, "must_change_password"),
        Column(user_alias, User, "password_changed_at"),
    ]


SIGNIN_FIELDS = len(SigninState.__dataclass_fields__)


def signin_state(values: list[Any]) -> SigninState:
    """The state from the loaded values of `signin_columns` (a slice of `Row.load`)."""
    if len(values) != SIGNIN_FIELDS:
        raise ValueError(
            f"signin_state takes the {SIGNIN_FIELDS} values of signin_columns, not {len(values)}"
        )
    return SigninState(*values)


def idle_after(kind: str) -> dt.timedelta:
    """How long after it was last seen a sign-in is idle for certain (ACC-04).

    An API token is idle API_TOKEN_IDLE_MINUTES after its last_seen_at. A browser session lives in Django's
    session store, which expires it SESSION_IDLE_TIMEOUT_MINUTES after its last request (SESSION_COOKIE_AGE,
    saved on every request); last_seen_at trails that request by up to TOUCH_SECONDS, so only then is the
    browser session idle for certain whatever the store says.
    """
    if kind == SessionKind.API:
        return dt.timedelta(minutes=settings.API_TOKEN_IDLE_MINUTES)
    return dt.timedelta(minutes=settings.SESSION_IDLE_TIMEOUT_MINUTES, seconds=TOUCH_SECONDS)


def password_due(
    *, must_change_password: bool, password_changed_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """The password must be changed before anything else (ACC-03): the initial one, or one past its age."""
    if must_change_password:
        return True
    if not password_changed_at or not settings.PASSWORD_MAX_AGE_DAYS:
        return False
    return now - password_changed_at > dt.timedelta(days=settings.PASSWORD_MAX_AGE_DAYS)


def face_check_applies(user: Any) -> bool:
    """FACE-01 at sign-in asks learners; staff who sign in with a second factor (operators, regulators) are not
    asked. The `is_learner` input of `signin_problem`."""
    return user.has_role(Role.LEARNER) and not user.needs_two_factor()


def face_check_due(
    face_verified_at: dt.datetime | None, is_learner: bool | Callable[[], bool] | None = None
) -> bool:
    """The sign-in still owes its face check (FACE_CHECK_AT_LOGIN). `is_learner`: `face_check_applies` of the user;
    None (unknown) counts as a learner; a callable is asked only when the answer matters (roles cost a query)."""
    if not settings.FACE_CHECK_AT_LOGIN or face_verified_at is not None:
        return False
    if callable(is_learner):
        is_learner = is_learner()
    return is_learner is None or bool(is_learner)


def signin_problem(
    state: SigninState,
    *,
    now: dt.datetime,
    kind: str,
    is_learner: bool | Callable[[], bool] | None = None,
    fresh_seconds: int | None = None,
) -> str | None:
    """None when the sign-in may go on, else what stops it, checked in this order:

    - "kind": the credential's kind (`kind`: "api" for a bearer token, "web" for the session cookie) is not the
      sign-in's (a browser session's key sent as a bearer token);
    - "ended": signed out, signed in elsewhere, password changed, face check failed... (ACC-05);
    - "idle": not seen for longer than `idle_after(kind)` (ACC-04);
    - "inactive": the account is deactivated;
    - "password": the initial password, or an expired one, must be changed first (ACC-03);
    - "face_check": a learner's face check at sign-in is pending (FACE-01); see `face_check_due` for `is_learner`;
    - "stale": not seen within `fresh_seconds` (hot paths): the full stack must see this sign-in now.
    """
    if state.kind != kind:
        return KIND
    if state.ended_at is not None:
        return ENDED
    seen_ago = now - state.last_seen_at
    if seen_ago > idle_after(kind):
        return IDLE
    if not state.user_active:
        return INACTIVE
    if password_due(
        must_change_password=state.must_change_password,
        password_changed_at=state.password_changed_at,
        now=now,
    ):
        return PASSWORD
    if face_check_due(state.face_verified_at, is_learner):
        return FACE_CHECK
    if fresh_seconds is not None and seen_ago.total_seconds() > fresh_seconds:
        return STALE
    return None


def hot_signin_problem(
    state: SigninState, *, now: dt.datetime, kind: str
) -> tuple[str | None, list[db.Statement]]:
    """The gate as a hot path applies it: a problem, or None with the writes the request must add. A sign-in not seen
    within HEARTBEAT_ACCOUNT_CHECK_SECONDS is the full stack's to see, except an API token, whose rules are all here:
    the hot path then keeps it alive itself, as the API's authentication does (auth_session_touch)."""
    problem = signin_problem(
        state, now=now, kind=kind, fresh_seconds=settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS
    )
    if problem == STALE and kind == SessionKind.API:
        return None, [db.update(AuthSession, state.id, last_seen_at=now)]
    return problem, []
