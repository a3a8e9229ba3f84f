"""API authentication: bearer tokens (player, machine clients) or the browser session (page scripts).

Both paths end in the same rules as the web pages: one active session (ACC-05), idle timeout, forced password
change before anything else (ACC-03), then a learner's face check at sign-in (FACE-01).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer

from safetrain.accounts import gate
from safetrain.accounts.models import AuthSession, SessionEndReason, SessionKind
from safetrain.accounts.services import (
    auth_session_end,
    auth_session_for,
    auth_session_touch,
    session_end_message,
    two_factor_required,
)
from safetrain.core.errors import DomainError, PermissionDenied

# Endpoints a user with the initial password may still call.
ALLOWED_BEFORE_PASSWORD_CHANGE = ("/api/v1/me", "/api/v1/auth/password", "/api/v1/auth/logout")


class SessionEnded(DomainError):
    status_code = 401


class MustChangePassword(DomainError):
    status_code = 403


# What a learner's session may call before passing the face check at sign-in (FACE-01).
ALLOWED_BEFORE_FACE_CHECK = (
    *ALLOWED_BEFORE_PASSWORD_CHANGE,
    "/api/v1/face-challenges",
    "/api/v1/face-checks",
)


def _ready(request: HttpRequest, user: Any, problem: str | None) -> Any:
    """The user, unless the sign-in's password or face check must come first and this endpoint is not one that
    clears it."""
    if problem == gate.PASSWORD and not request.path.startswith(ALLOWED_BEFORE_PASSWORD_CHANGE):
        raise MustChangePassword(
            "must_change_password",
            _("Please change your initial password first (PUT /api/v1/auth/password)."),
        )
    if problem == gate.FACE_CHECK and not request.path.startswith(ALLOWED_BEFORE_FACE_CHECK):
        raise MustChangePassword(
            "face_check_required",
            _("Pass the face check first (POST /api/v1/face-challenges, then /api/v1/face-checks)."),
        )
    return user


def _problem(session: AuthSession, user: Any, kind: str) -> str | None:
    return gate.signin_problem(
        gate.SigninState.of(session, user),
        now=timezone.now(),
        kind=kind,
        is_learner=lambda: gate.face_check_applies(user),
    )


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        session = auth_session_for(token)
        if session is None:
            return None
        user = session.user
        problem = _problem(session, user, SessionKind.API)
        if problem in (gate.KIND, gate.INACTIVE):
            return None
        if problem == gate.ENDED:
            raise SessionEnded(
                "session_ended", session_end_message(session.end_reason), reason=session.end_reason
            )
        if problem == gate.IDLE:
            auth_session_end(secret=token, reason=SessionEndReason.IDLE)
            raise SessionEnded("session_ended", session_end_message(SessionEndReason.IDLE), reason="idle")
        auth_session_touch(session)
        request.user = user
        request.token_auth = True  # type: ignore[attr-defined]
        request.auth_session = session  # type: ignore[attr-defined]
        return _ready(request, user, problem)


class BrowserSession(APIKeyCookie):
    """The signed-in browser session; CSRF is checked on unsafe methods (ninja's APIKeyCookie does it)."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if two_factor_required(user) and not user.is_verified():
            # The browser session passed the password only: the API is closed until the second factor.
            raise PermissionDenied("two_factor_required", _("Complete two-factor sign-in first."))
        session = getattr(request, "auth_session", None)
        if session is None:  # (no AccountPolicyMiddleware in front: no sign-in record to ask)
            problem = (
                gate.PASSWORD
                if gate.password_due(
                    must_change_password=user.must_change_password,
                    password_changed_at=user.password_changed_at,
                    now=timezone.now(),
                )
                else None
            )
        else:
            # The middleware has ended a signed-out, idle or deactivated session before this.
            problem = _problem(session, user, SessionKind.WEB)
        return _ready(request, user, problem)


api_auth = [BearerToken(), BrowserSession()]
