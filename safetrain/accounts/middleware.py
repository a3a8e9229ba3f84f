"""Account policy on every request: one active session (ACC-05), forced password change (ACC-03), two-factor
sign-in for operators and regulators (NAT-07) and the learners' face check at sign-in (FACE-01)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from safetrain.accounts.services import (
    auth_session_for,
    auth_session_touch,
    face_check_pending,
    password_expired,
    session_end_message,
    two_factor_required,
)

# Paths a signed-in user may reach before changing the initial password or passing two-factor sign-in.
OPEN_PREFIXES = ("/static/", "/media/", "/healthz", "/i18n/", "/captcha/", "/accounts/logout/", "/api/")


class AccountPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and hasattr(request, "session")
            and not getattr(request, "token_auth", False)
        ):
            response = self._check(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        session = auth_session_for(request.session.session_key or "")
        if session is None or not session.is_open or session.user_id != user.pk:
            reason = session.end_reason if session is not None else "logout"
            request.session.flush()
            request.user = AnonymousUser()
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "session_ended", "reason": reason, "message": session_end_message(reason)},
                    status=401,
                )
            login_url = reverse("accounts:login")
            params = {"ended": reason}
            if request.path != login_url:
                params["next"] = request.get_full_path()
            return redirect(f"{login_url}?{urlencode(params)}")
        auth_session_touch(session)
        request.auth_session = session  # type: ignore[attr-defined]
        if request.path.startswith(OPEN_PREFIXES):
            return None
        # Second factor first (a password must not be changed on a password alone), then the password rules.
        two_factor_url = reverse("accounts:two_factor")
        if request.path == two_factor_url:
            return None
        if two_factor_required(user) and not user.is_verified():
            return redirect(two_factor_url)
        change_url = reverse("accounts:password_change")
        if request.path == change_url:
            return None
        if user.must_change_password or password_expired(user):
            return redirect(change_url)
        # Then the face check at sign-in (FACE-01, FACE_CHECK_AT_LOGIN): learners prove who they are first.
        face_paths = (
            reverse("proctoring:verify"),
            reverse("proctoring:photo"),
            reverse("proctoring:photo_image"),
        )
        if request.path not in face_paths and face_check_pending(user, session):
            return redirect(f"{face_paths[0]}?{urlencode({'next': request.get_full_path()})}")
        return None
