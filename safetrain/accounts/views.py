"""Sign-in, sign-out, password change, two-factor sign-in, profile, dashboard and the people list."""

from __future__ import annotations

from typing import Any

from captcha.helpers import captcha_image_url
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from safetrain.accounts.desk import desk_panels, desk_todos
from safetrain.accounts.forms import (
    LoginForm,
    OtpForm,
    PasswordChangeForm,
    PasswordForgotForm,
    PasswordResetCodeForm,
    PeopleFilterForm,
    ProfileForm,
)
from safetrain.accounts.models import SessionKind, User
from safetrain.accounts.selectors import people_search
from safetrain.accounts.services import (
    auth_session_rekey,
    auth_session_start,
    guide_dismiss,
    lockout_message,
    login_authenticate,
    password_change,
    password_reset_by_admin,
    password_reset_by_sms_offered,
    password_reset_code_request,
    password_reset_with_code,
    password_resettable_by,
    profile_update,
    session_end_message,
    totp_device,
    totp_device_confirm,
    totp_device_start,
    totp_verify,
)
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.qr import qr_svg


def _captcha() -> dict[str, str]:
    key = CaptchaStore.generate_key()
    return {"key": key, "image_url": captcha_image_url(key)}


def _render_login(
    request: HttpRequest, form: LoginForm, *, error: str = "", captcha: bool = False, status: int = 200
):
    return render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "error": error,
            "captcha": _captcha() if captcha else None,
            "ended_message": session_end_message(request.GET["ended"]) if request.GET.get("ended") else "",
        },
        status=status,
    )


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect("home")
    if request.method != "POST":
        return _render_login(request, LoginForm())
    form = LoginForm(request.POST)
    if not form.is_valid():
        return _render_login(
            request, form, error=_("Enter your ID number (or phone) and password."), status=400
        )
    data = form.cleaned_data
    try:
        user = login_authenticate(
            request=request,
            username=data["username"],
            password=data["password"],
            captcha_key=data["captcha_key"],
            captcha_value=data["captcha_value"],
        )
    except DomainError as exc:
        return _render_login(
            request,
            LoginForm(initial={"username": data["username"]}),
            error=exc.message,
            captcha=bool(exc.details.get("captcha_required")),
            status=400,
        )
    login(request, user, backend="safetrain.accounts.backends.IdentityBackend")
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(target or "home")


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout page: the login form (or JSON for the API) with the reason."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "account_locked", "message": lockout_message()}, status=423)
    username = (credentials or {}).get("username", "") if isinstance(credentials, dict) else ""
    return _render_login(
        request, LoginForm(initial={"username": username}), error=lockout_message(), captcha=True, status=423
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("accounts:login")


@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                keep_secret=request.session.session_key,
            )
        except DomainError as exc:
            form.add_error("new_password1" if exc.field == "new_password" else exc.field, exc.message)
        else:
            old_key = request.session.session_key or ""
            update_session_auth_hash(request, request.user)  # cycles the session key
            auth_session_rekey(old_secret=old_key, new_secret=request.session.session_key or "")
            messages.success(request, _("Your password has been changed."))
            return redirect("home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": request.user.must_change_password},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """Set up (scan + confirm) or use the authenticator for two-factor sign-in."""
    device = totp_device(request.user)
    form = OtpForm(request.POST or None)
    setup = device is None
    if request.method == "POST" and form.is_valid():
        try:
            if setup:
                device = totp_device_confirm(user=request.user, token=form.cleaned_data["otp_token"])
            else:
                device = totp_verify(user=request.user, token=form.cleaned_data["otp_token"])
        except DomainError as exc:
            form.add_error("otp_token", exc.message)
        else:
            otp_login(request, device)
            # Now the sign-in is complete: it becomes the one active session (ACC-05).
            auth_session_start(
                user=request.user, kind=SessionKind.WEB, secret=request.session.session_key, request=request
            )
            return redirect("home")
    context: dict[str, Any] = {"form": form, "setup": setup}
    if setup:
        pending = totp_device_start(user=request.user)
        context["qr_svg"] = qr_svg(pending.config_url)
        context["secret"] = pending.config_url.split("secret=")[1].split("&")[0]
    return render(
        request, "accounts/two_factor.html", context, status=400 if request.method == "POST" else 200
    )


@login_required
def profile_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={
            "education": user.education,
            "years_in_safety_work": user.years_in_safety_work,
            "address": user.address,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(user=user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, _("Your profile has been saved."))
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form, "memberships": user.active_memberships()})


@login_required
def home_view(request: HttpRequest) -> HttpResponse:
    """The role-aware desk (首页): what each app registers in safetrain.accounts.desk (cards, to-do counts)."""
    user = request.user
    return render(
        request,
        "accounts/home.html",
        {
            "memberships": user.active_memberships(),
            "roles": user.roles(),
            "sees_people": _sees_people(user),
            "notices": user.notices.filter(read_at__isnull=True)[:5],
            "panels": desk_panels(request),
            "todos": desk_todos(user),
        },
    )


PEOPLE_VIEWER_ROLES = ("regulator", "enterprise_admin", "institution_admin")


def _sees_people(user: Any) -> bool:
    return user.sees_everything() or user.has_role(*PEOPLE_VIEWER_ROLES)


@staff_required(*PEOPLE_VIEWER_ROLES)
def people_view(request: HttpRequest) -> HttpResponse:
    """People in the viewer's scope (its organisation subtree or region subtree), 50 a page, found by full name or
    ID number (exact: both are stored encrypted)."""
    # The unit and the page travel in the URL; a name or an ID number only in a POST body (no logs, no history).
    form = PeopleFilterForm(
        {**request.GET.dict(), **request.POST.dict()} if request.GET or request.POST else None
    )
    filters = form.cleaned_data if form.is_valid() else {}
    by_person = bool((filters.get("name") or "").strip() or (filters.get("id_number") or "").strip())
    if request.method == "POST" and form.is_valid() and not by_person:
        # Only a unit was chosen: show it at an address that pages (and can be bookmarked).
        organisation = filters.get("organisation")
        return redirect(
            reverse("accounts:people") + (f"?organisation={organisation}" if organisation else "")
        )
    people = people_search(
        viewer=request.user,
        organisation_id=filters.get("organisation"),
        id_number=filters.get("id_number") or "",
        name=filters.get("name") or "",
    )
    page = Paginator(people, 50).get_page(None if by_person else request.GET.get("page"))
    organisations = request.user.visible_organisations().select_related("region")[:500]
    return render(
        request,
        "accounts/people.html",
        {"form": form, "page": page, "organisations": organisations, "by_person": by_person},
    )


@require_POST
@login_required
def notice_read_view(request: HttpRequest, notice_id: int) -> HttpResponse:
    """“知道了”: the notice leaves the dashboard (it stays in the database)."""
    from django.utils import timezone

    request.user.notices.filter(pk=notice_id, read_at__isnull=True).update(read_at=timezone.now())
    return redirect("home")


# Account help (issue 27): a forgotten password, a new initial password from the unit, the first-visit guide ---------


PASSWORD_RESET_SESSION_KEY = "password_reset_login"


def password_forgot_view(request: HttpRequest) -> HttpResponse:
    """“忘记密码”: the two ways back in; where SMS is offered, the request for a code."""
    sms = password_reset_by_sms_offered()
    form = PasswordForgotForm(request.POST or None)
    if request.method == "POST" and sms and form.is_valid():
        try:
            login_indexes = password_reset_code_request(
                request=request, identifier=form.cleaned_data["username"]
            )
        except DomainError as exc:
            form.add_error("username" if exc.field == "username" else None, exc.message)
        else:
            # The (anonymous) session keeps the login's blind indexes only, never the ID number or phone typed,
            # and the URL nothing: no personal data reaches the session store, logs or the history. (Older
            # versions kept the number itself under "password_reset_for".)
            request.session.pop("password_reset_for", None)
            request.session[PASSWORD_RESET_SESSION_KEY] = login_indexes
            return redirect("accounts:password_reset_code")
    return render(
        request,
        "accounts/password_forgot.html",
        {"form": form, "sms": sms},
        status=400 if request.method == "POST" else 200,
    )


def password_reset_code_view(request: HttpRequest) -> HttpResponse:
    """Enter the code from the SMS and a new password."""
    request.session.pop("password_reset_for", None)
    login_indexes = request.session.get(PASSWORD_RESET_SESSION_KEY)
    if not login_indexes or not password_reset_by_sms_offered():
        return redirect("accounts:password_forgot")
    form = PasswordResetCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_with_code(
                request=request,
                login=login_indexes,
                code=form.cleaned_data["code"],
                new_password=form.cleaned_data["new_password1"],
            )
        except DomainError as exc:
            form.add_error("new_password1" if exc.field == "new_password" else exc.field, exc.message)
        else:
            request.session.pop(PASSWORD_RESET_SESSION_KEY, None)
            messages.success(
                request, _("Your password has been reset. Please sign in with the new password.")
            )
            return redirect("accounts:login")
    return render(
        request,
        "accounts/password_reset_code.html",
        {"form": form, "minutes": settings.SMS_CODE_MINUTES},
        status=400 if request.method == "POST" else 200,
    )


@staff_required("enterprise_admin", "institution_admin")
def person_password_reset_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """A unit administrator gives a learner a new initial password (shown once, on this answer only)."""
    person = get_object_or_404(User.objects.visible_to(request.user), pk=user_id)
    allowed = password_resettable_by(actor=request.user, user=person)
    new_password = ""
    error = ""
    if request.method == "POST":
        try:
            new_password = password_reset_by_admin(actor=request.user, user=person, request=request)
        except DomainError as exc:
            error = exc.message
    response = render(
        request,
        "accounts/person_password_reset.html",
        {"person": person, "allowed": allowed, "new_password": new_password, "error": error},
        status=403 if error or not allowed else 200,
    )
    response["Cache-Control"] = "no-store"  # the new password must not stay in a cache or the back button
    return response


@require_POST
@login_required
def guide_dismiss_view(request: HttpRequest) -> HttpResponse:
    """“不再显示”: the first-visit guide leaves the desk for good."""
    guide_dismiss(user=request.user)
    return redirect("home")
