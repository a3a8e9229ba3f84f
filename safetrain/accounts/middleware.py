"""Account policy on every request: one active session (ACC-05), forced password change (ACC-03), two-factor
sign-in for operators and regulators (NAT-07) and the learners' face check at sign-in (FACE-01)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from safetrain.accounts import gate
from safetrain.accounts.models import AuthSession, SessionEndReason, SessionKind
from safetrain.accounts.services import (
    auth_session_end,
    auth_session_for,
    auth_session_touch,
    session_end_message,
    two_factor_required,
)

# Paths a signed-in user may reach before changing the initial password or passing two-factor sign-in.
OPEN_PREFIXES = ("/static/", "/media/", "/healthz", "/i18n/", "/captcha/", "/accounts/logout/", "/api/")
# The gate's problems that end the request's sign-in (the rest leave it open to the pages that clear them).
SIGNED_OUT = (gate.KIND, gate.ENDED, gate.IDLE, gate.INACTIVE)


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
        problem = (
            gate.ENDED
            if session is None or session.user_id != user.pk
            else gate.signin_problem(
                gate.SigninState.of(session, user),
                now=timezone.now(),
                kind=SessionKind.WEB,
                is_learner=lambda: gate.face_check_applies(user),
            )
        )
        if problem in SIGNED_OUT:
            return self._signed_out(request, session, problem)
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
        if problem == gate.PASSWORD:
            return redirect(change_url)
        # Then the face check at sign-in (FACE-01, FACE_CHECK_AT_LOGIN): learners prove who they are first.
        face_paths = (
            reverse("proctoring:verify"),
            reverse("proctoring:photo"),
            reverse("proctoring:photo_image"),
        )
        if problem == gate.FACE_CHECK and request.path not in face_paths:
            return redirect(f"{face_paths[0]}?{urlencode({'next': request.get_full_path()})}")
        return None

    def _signed_out(self, request: HttpRequest, session: AuthSession | None, problem: str) -> HttpResponse:
        if session is None:
            reason = SessionEndReason.LOGOUT.value
        elif problem == gate.IDLE:
            # (Django's session store expires an idle browser session first; this is its backstop)
            auth_session_end(secret=request.session.session_key or "", reason=SessionEndReason.IDLE)
            reason = SessionEndReason.IDLE.value
        elif problem == gate.INACTIVE:
            reason = SessionEndReason.DEACTIVATED.value
        else:
            reason = session.end_reason
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
