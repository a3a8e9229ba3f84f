"""API authentication: bearer tokens (player, machine clients) or the browser session (page scripts).

Both paths end in the same rules as the web pages: one active session (ACC-05), idle timeout, forced password
change before anything else (ACC-03), then a learner's face check at sign-in (FACE-01).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer

from safetrain.accounts.models import AuthSession, SessionEndReason, SessionKind
from safetrain.accounts.services import (
    auth_session_end,
    auth_session_for,
    auth_session_touch,
    face_check_pending,
    password_expired,
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


def _ready(request: HttpRequest, user: Any, session: AuthSession | None) -> Any:
    if (user.must_change_password or password_expired(user)) and not request.path.startswith(
        ALLOWED_BEFORE_PASSWORD_CHANGE
    ):
        raise MustChangePassword(
            "must_change_password",
            _("Please change your initial password first (PUT /api/v1/auth/password)."),
        )
    if face_check_pending(user, session) and not request.path.startswith(ALLOWED_BEFORE_FACE_CHECK):
        raise MustChangePassword(
            "face_check_required",
            _("Pass the face check first (POST /api/v1/face-challenges, then /api/v1/face-checks)."),
        )
    return user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        session = auth_session_for(token)
        if session is None or session.kind != SessionKind.API:
            return None
        if not session.is_open:
            raise SessionEnded(
                "session_ended", session_end_message(session.end_reason), reason=session.end_reason
            )
        idle = dt.timedelta(minutes=settings.API_TOKEN_IDLE_MINUTES)
        if timezone.now() - session.last_seen_at > idle:
            auth_session_end(secret=token, reason=SessionEndReason.IDLE)
            raise SessionEnded("session_ended", session_end_message(SessionEndReason.IDLE), reason="idle")
        user = session.user
        if not user.is_active:
            return None
        auth_session_touch(session)
        request.user = user
        request.token_auth = True  # type: ignore[attr-defined]
        request.auth_session = session  # type: ignore[attr-defined]
        return _ready(request, user, session)


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
        return _ready(request, user, getattr(request, "auth_session", None))


api_auth = [BearerToken(), BrowserSession()]
