"""Account services: creating real-name users, roles, passwords, sign-in and sessions (ACC-01..05, ACC-08)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.models import TOTPDevice

from safetrain.accounts.gate import face_check_applies, face_check_due, password_due
from safetrain.accounts.identity import IdType, initial_password_for, parse_identity
from safetrain.accounts.models import (
    TWO_FACTOR_ROLES,
    AuthSession,
    Membership,
    PasswordHistory,
    Role,
    SessionEndReason,
    SessionKind,
    SmsCode,
    User,
    id_index_of,
    phone_index_of,
)
from safetrain.accounts.sms import SmsUnavailable, sms_available, sms_send
from safetrain.core.crypto import blind_index, token_digest
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.core.http import client_ip, user_agent
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log

# Which organisation kinds each role may be held in.
ROLE_ORGANISATION_KINDS: dict[str, set[str]] = {
    Role.LEARNER: {
        OrganisationKind.ENTERPRISE,
        OrganisationKind.PROJECT,
        OrganisationKind.TEAM,
        OrganisationKind.INSTITUTION,
    },
    Role.ENTERPRISE_ADMIN: {OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT},
    Role.INSTITUTION_ADMIN: {OrganisationKind.INSTITUTION},
    Role.OPERATOR: {OrganisationKind.PLATFORM},
    Role.REGULATOR: {OrganisationKind.REGULATOR},
}


def normalise_phone(phone: str) -> str:
    phone = "".join(ch for ch in (phone or "") if ch.isdigit())
    if phone and (len(phone) != 11 or not phone.startswith("1")):
        raise DomainError(
            "invalid_phone",
            _("The mobile phone number must have 11 digits starting with 1. Please check it and try again."),
            field="phone",
        )
    return phone


# Users ---------------------------------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    id_number: str,
    name: str,
    id_type: str = IdType.RESIDENT_ID,
    organisation: Organisation | None = None,
    role: str = Role.LEARNER,
    password: str | None = None,
    phone: str = "",
    birth_date: dt.date | None = None,
    sex: str = "",
    education: str = "",
    initial_password_hash: str = "",
    keep_phone: bool = True,
) -> User:
    """Create a real-name account and its membership.

    Without a password the account gets the initial password (last 6 characters of the ID number) and must
    change it at first sign-in (ACC-03). A given password must satisfy the password rules. Bulk creation passes
    `initial_password_hash`, the initial password hashed beforehand (hashing is slow on purpose: never inside a
    long transaction). The phone is kept only where the policy (POLICY_KEEP_PHONES) and the caller allow it: a caller
    that knows the learner's region profile does not keep phones (Guangdong, GD#14) passes `keep_phone=False`.
    """
    identity = parse_identity(id_type, id_number, birth_date=birth_date, sex=sex)
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(
            "name_required", _("Please enter your name (as on your identity document)."), field="name"
        )
    if len(name) > 60:
        raise DomainError("name_too_long", _("The name is too long. Please check it."), field="name")
    index = id_index_of(identity.number)
    if User.objects.filter(id_index=index).exists():
        raise DomainError(
            "duplicate_id_number",
            _(
                "This ID number is already registered and cannot be registered again. If you have forgotten "
                "your password, use “Forgot password” or contact customer service."
            ),
            field="id_number",
        )
    phone = normalise_phone(phone) if settings.POLICY_KEEP_PHONES and keep_phone else ""
    if phone and User.objects.filter(phone_index=phone_index_of(phone)).exists():
        raise DomainError(
            "duplicate_phone",
            _("This mobile phone number is already used by another account."),
            field="phone",
        )
    if organisation is not None:
        _check_role_fits(role, organisation)
    if not password and role in TWO_FACTOR_ROLES:
        # Anyone who knows the ID number would know an initial password and could enrol their own second factor.
        raise DomainError(
            "staff_password_required",
            _("Operator and regulator accounts need a strong password set at creation."),
            field="password",
        )
    user = User(
        id_type=identity.id_type,
        id_number=identity.number,
        id_index=index,
        name=name,
        sex=identity.sex,
        birth_date=identity.birth_date,
        id_region_code=identity.region_code,
        phone=phone,
        phone_index=phone_index_of(phone) if phone else None,
        primary_organisation=organisation,
        education=education,
    )
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError("weak_password", " ".join(exc.messages), field="password") from exc
        user.set_password(password)
        user.password_changed_at = timezone.now()
    else:
        if initial_password_hash:
            user.password = initial_password_hash
        else:
            user.set_password(initial_password_for(identity.number))
        user.must_change_password = True
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise DomainError(
            "duplicate_id_number",
            _("This ID number is already registered and cannot be registered again."),
            field="id_number",
        ) from exc
    audit_log(
        action="account.create",
        obj=user,
        organisation_id=organisation.pk if organisation else None,
        detail={"id_type": identity.id_type, "initial_password": not password, "role": role},
    )
    if organisation is not None:
        membership_grant(user=user, organisation=organisation, role=role)
    return user


@transaction.atomic
def user_phone_erase(*, user: User, reason: str) -> bool:
    """Erase the account's mobile number and its lookup index (POL-PHONE, GD#14: a region profile that does not keep
    learners' phones). The audit entry records that it was erased and why, never the number. Returns whether a
    number was there; phone sign-in then ends for the account."""
    stored = User.objects.select_for_update().only("phone", "phone_index").get(pk=user.pk)
    user.phone, user.phone_index = "", None
    if not stored.phone and stored.phone_index is None:
        return False
    User.objects.filter(pk=user.pk).update(phone="", phone_index=None)
    audit_log(action="account.phone_erase", obj=user, detail={"reason": reason})
    return True


def _check_role_fits(role: str, organisation: Organisation) -> None:
    if role not in Role.values:
        raise DomainError("invalid_role", _("Invalid role."), field="role")
    if organisation.kind not in ROLE_ORGANISATION_KINDS[role]:
        raise DomainError(
            "role_not_allowed",
            _("The role “%(role)s” is not allowed in “%(organisation)s” (%(kind)s).")
            % {
                "role": Role(role).label,
                "kind": OrganisationKind(organisation.kind).label,
                "organisation": organisation.name,
            },
            field="role",
        )


@transaction.atomic
def membership_grant(*, user: User, organisation: Organisation, role: str) -> Membership:
    _check_role_fits(role, organisation)
    if role in TWO_FACTOR_ROLES and user.must_change_password:
        raise DomainError(
            "staff_password_required",
            _("Operator and regulator accounts need a strong password set at creation."),
            field="password",
        )
    membership, created = Membership.objects.get_or_create(user=user, organisation=organisation, role=role)
    if not membership.is_active:
        membership.is_active = True
        membership.save(update_fields=["is_active"])
        created = True
    if user.primary_organisation_id is None:
        user.primary_organisation = organisation
        user.save(update_fields=["primary_organisation"])
    if role == Role.OPERATOR and not user.is_staff:
        user.is_staff = True  # operators work in the admin site
        user.save(update_fields=["is_staff"])
    if created:
        audit_log(
            action="role.grant",
            obj=user,
            organisation_id=organisation.pk,
            detail={"role": role, "organisation": organisation.pk},
        )
    user.__dict__.pop("_memberships_cache", None)
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership) -> None:
    if not membership.is_active:
        return
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    audit_log(
        action="role.revoke",
        obj=membership.user,
        organisation_id=membership.organisation_id,
        detail={"role": membership.role, "organisation": membership.organisation_id},
    )


@transaction.atomic
def profile_update(
    *,
    user: User,
    education: str | None = None,
    years_in_safety_work: int | None = None,
    address: str | None = None,
) -> User:
    """The learner edits what is not bound to the identity document (ACC-06); name and ID stay as registered."""
    changed = []
    if education is not None and education != user.education:
        user.education = education.strip()[:40]
        changed.append("education")
    if years_in_safety_work is not None and years_in_safety_work != user.years_in_safety_work:
        if not 0 <= years_in_safety_work <= 60:
            raise DomainError(
                "invalid_years",
                _("Years in safety work must be between 0 and 60."),
                field="years_in_safety_work",
            )
        user.years_in_safety_work = years_in_safety_work
        changed.append("years_in_safety_work")
    if address is not None and address != user.address:
        user.address = address.strip()[:200]
        changed.append("address")
    if changed:
        user.save(update_fields=changed)
        audit_log(action="account.profile_update", obj=user, detail={"fields": changed})
    return user


# Passwords -----------------------------------------------------------------------------------------------


def password_change(
    *, user: User, new_password: str, old_password: str | None = None, keep_secret: str | None = None
) -> User:
    """Change a password under the password rules; the old hash goes into the history (ACC-03).

    Every other session and token of the user ends; `keep_secret` names the one that made the change.
    A wrong current password is audited (outside the change's transaction, so the entry stays).
    """
    if old_password is not None and not user.check_password(old_password):
        audit_log(
            action="auth.password_change",
            obj=user,
            actor=user,
            result="failure",
            detail={"reason": "wrong_old_password"},
        )
        raise DomainError("wrong_password", _("The current password is not correct."), field="old_password")
    # Verified just now: the history rule compares it as text instead of hashing again (ACC-03, bench/passwords.py).
    user.verified_password = old_password
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise DomainError("weak_password", " ".join(exc.messages), field="new_password") from exc
    finally:
        del user.verified_password
    with transaction.atomic():
        if user.password:
            PasswordHistory.objects.create(user=user, password=user.password)
        user.set_password(new_password)
        user.must_change_password = False
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        ended = sessions_end_all(
            user=user, reason=SessionEndReason.PASSWORD_CHANGED, except_secret=keep_secret
        )
        audit_log(action="auth.password_change", obj=user, actor=user, detail={"sessions_ended": ended})
    return user


@transaction.atomic
def password_reset_to_initial(*, user: User) -> str:
    """An admin resets an account to its initial password; the user must change it at next sign-in."""
    initial = initial_password_for(user.id_number)
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
    user.set_password(initial)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    sessions_end_all(user=user, reason=SessionEndReason.PASSWORD_CHANGED)
    audit_log(action="auth.password_reset", obj=user)
    return initial


# Account help (ACC-03, issue 27): a new initial password from the unit's administrator, or a code by SMS ---------

_UPPER, _LOWER, _DIGITS = "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz", "23456789"


def _readable_password(length: int = 10) -> str:
    """A random password that is easy to read out and type (no I/l/1, O/o/0), with upper, lower and digits."""
    everything = _UPPER + _LOWER + _DIGITS
    chars = [secrets.choice(_UPPER), secrets.choice(_LOWER), secrets.choice(_DIGITS)]
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def password_resettable_by(*, actor: Any, user: User) -> bool:
    """Who may give a person a new initial password: an operator, or an enterprise or training-institution
    administrator whose organisations hold the person. Only learners' passwords are reset this way (never one's own,
    never another administrator's, an operator's or a regulator's: those go through the operators)."""
    if not getattr(actor, "is_authenticated", False) or actor.pk == user.pk:
        return False
    if user.is_superuser or user.has_role(Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN, *TWO_FACTOR_ROLES):
        return False
    if not (actor.sees_everything() or actor.has_role(Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN)):
        return False
    return User.objects.visible_to(actor).filter(pk=user.pk).exists()


@transaction.atomic
def password_reset_by_admin(*, actor: Any, user: User, request: HttpRequest | None = None) -> str:
    """A unit administrator gives a learner a new random initial password (shown to the administrator once, never
    stored in clear); the learner must change it at the next sign-in, every open session ends and a lockout is
    lifted. Returns the new password."""
    if not password_resettable_by(actor=actor, user=user):
        raise PermissionDenied(
            "reset_not_allowed",
            _(
                "You can reset the passwords of learners in your own organisations only. Administrators' "
                "passwords are reset by the platform's customer service."
            ),
        )
    password = _readable_password()
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    sessions_end_all(user=user, reason=SessionEndReason.PASSWORD_CHANGED)
    axes_reset(username=user.id_index)
    audit_log(
        action="auth.password_reset", obj=user, actor=actor, request=request, detail={"by": "unit_admin"}
    )
    return password


def password_reset_by_sms_offered() -> bool:
    """The reset by SMS code exists where an SMS provider is configured and the region profile keeps phones."""
    return bool(settings.POLICY_KEEP_PHONES) and sms_available()


def _sms_code_hash(user: User, code: str) -> str:
    # Keyed (BLIND_INDEX_KEY): a copy of the database alone cannot try the million codes.
    return blind_index(f"{user.pk}:{code}", purpose="sms_code")


def _over_limit(key: str, limit: int, window_seconds: int) -> bool:
    """Count one more request under `key` in a fixed window; True once over `limit`. Fails closed: with the cache
    down, no SMS is sent (each costs money and can be used to harass a phone)."""
    try:
        if cache.add(key, 1, window_seconds):
            return limit < 1
        return cache.incr(key) > limit
    except Exception:  # noqa: BLE001
        return True


def _login_identifier(text: str) -> str:
    return "".join((text or "").split()).upper()


def password_reset_login_of(identifier: str) -> list[str]:
    """What a person typed to name their account (an ID number or a phone), as the blind indexes it is looked up
    by: [id_index, phone_index]. Only these travel on (task message, session), never the number itself."""
    identifier = _login_identifier(identifier)
    return [id_index_of(identifier), phone_index_of(identifier)]


def _user_by_login(login: Any) -> User | None:
    if not (
        isinstance(login, list | tuple) and len(login) == 2 and all(isinstance(i, str) and i for i in login)
    ):
        return None
    id_index, phone_index = login
    return User.objects.filter(Q(id_index=id_index) | Q(phone_index=phone_index), is_active=True).first()


def password_reset_code_request(*, request: HttpRequest, identifier: str) -> list[str]:
    """Ask for a 6-digit reset code by SMS to the bound phone of the account named by ID number or phone; returns
    the login's blind indexes (see password_reset_login_of) for the code-entry step.

    The answer, and the time it takes, are the same whether or not such an account exists or has a phone: after the
    checks that say nothing about any account (the reset by SMS is offered, something was entered, this address did
    not ask too often: SMS_CODES_PER_IP_PER_HOUR), the same task is always queued with the login's blind indexes
    only; the task looks the account up and sends the code (password_reset_code_send).
    """
    from safetrain.accounts.tasks import send_password_reset_code

    if not password_reset_by_sms_offered():
        raise DomainError(
            "sms_reset_unavailable",
            _(
                "Resetting a password by SMS code is not available here. Please ask your unit's administrator."
            ),
        )
    if not _login_identifier(identifier):
        raise DomainError(
            "identifier_required", _("Enter your ID number or your mobile phone number."), field="username"
        )
    if _over_limit(f"sms-code-ip:{client_ip(request)}", settings.SMS_CODES_PER_IP_PER_HOUR, 3600):
        raise DomainError(
            "too_many_code_requests",
            _(
                "Too many code requests from this network. Please try again in an hour, or ask your unit's "
                "administrator to reset your password."
            ),
        )
    login = password_reset_login_of(identifier)
    transaction.on_commit(lambda: send_password_reset_code.delay(*login))
    return login


def password_reset_code_send(*, id_index: str, phone_index: str) -> None:
    """The task's half of password_reset_code_request: find the active account by the login's blind indexes and
    send a new 6-digit code to its bound phone, unless it has none, signs in with a second factor, or the per-phone
    limit (one a minute, SMS_CODES_PER_PHONE_PER_HOUR an hour) holds it back. A new code voids the earlier ones."""
    user = _user_by_login([id_index, phone_index])
    if user is None or not user.phone or user.needs_two_factor():
        return
    if not cache.add(f"sms-code-gap:{user.phone_index}", 1, 60) or _over_limit(
        f"sms-code-phone:{user.phone_index}", settings.SMS_CODES_PER_PHONE_PER_HOUR, 3600
    ):
        audit_log(
            action="auth.password_reset_code", obj=user, result="denied", detail={"reason": "rate_limited"}
        )
        return
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        SmsCode.objects.filter(
            user=user, purpose=SmsCode.Purpose.PASSWORD_RESET, used_at__isnull=True
        ).update(used_at=now)
        SmsCode.objects.create(
            user=user,
            purpose=SmsCode.Purpose.PASSWORD_RESET,
            code_hash=_sms_code_hash(user, code),
            created_at=now,
            expires_at=now + dt.timedelta(minutes=settings.SMS_CODE_MINUTES),
        )
        audit_log(action="auth.password_reset_code", obj=user)
    try:
        sms_send(user.phone, "password_reset", {"code": code, "minutes": str(settings.SMS_CODE_MINUTES)})
    except SmsUnavailable:
        audit_log(
            action="auth.password_reset_code",
            obj=user,
            result="failure",
            detail={"reason": "sms_unavailable"},
        )


def _invalid_code() -> DomainError:
    return DomainError(
        "invalid_code",
        _(
            "The code is wrong or no longer valid (a code is valid for %(minutes)d minutes and %(tries)d tries). "
            "Check the latest message, or request a new code."
        )
        % {"minutes": settings.SMS_CODE_MINUTES, "tries": settings.SMS_CODE_MAX_TRIES},
        field="code",
    )


def password_reset_with_code(*, request: HttpRequest, login: Any, code: str, new_password: str) -> User:
    """Set a new password with the code sent by SMS. A wrong code counts one of SMS_CODE_MAX_TRIES tries; a new
    password that breaks the rules is refused without using the code up. Every open session ends. `login` is what
    password_reset_code_request returned (the login's blind indexes)."""
    if _over_limit(f"sms-verify-ip:{client_ip(request)}", settings.SMS_CODES_PER_IP_PER_HOUR * 5, 3600):
        raise DomainError(
            "too_many_code_requests",
            _(
                "Too many code requests from this network. Please try again in an hour, or ask your unit's "
                "administrator to reset your password."
            ),
        )
    code = "".join((code or "").split())
    user = _user_by_login(login)
    if user is None or not (len(code) == 6 and code.isdigit()):
        raise _invalid_code()
    with transaction.atomic():
        sms = (
            SmsCode.objects.select_for_update()
            .filter(
                user=user,
                purpose=SmsCode.Purpose.PASSWORD_RESET,
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .order_by("-created_at")
            .first()
        )
        matches = (
            sms is not None
            and sms.tries < settings.SMS_CODE_MAX_TRIES
            and secrets.compare_digest(sms.code_hash, _sms_code_hash(user, code))
        )
        if sms is not None and not matches:
            sms.tries += 1
            sms.save(update_fields=["tries"])
    if not matches:
        raise _invalid_code()
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise DomainError("weak_password", " ".join(exc.messages), field="new_password") from exc
    with transaction.atomic():
        used = SmsCode.objects.filter(pk=sms.pk, used_at__isnull=True).update(used_at=timezone.now())
        if not used:  # the same code, used a moment ago by another request
            raise _invalid_code()
        if user.password:
            PasswordHistory.objects.create(user=user, password=user.password)
        user.set_password(new_password)
        user.must_change_password = False
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        sessions_end_all(user=user, reason=SessionEndReason.PASSWORD_CHANGED)
        axes_reset(username=user.id_index)
        audit_log(
            action="auth.password_reset", obj=user, actor=user, request=request, detail={"by": "sms_code"}
        )
    return user


# First-visit guide (引导语, LRN-08) ------------------------------------------------------------------------------


@transaction.atomic
def guide_dismiss(*, user: User) -> None:
    """The learner closes the first-visit guide on the desk; it stays closed."""
    if user.guide_dismissed_at is None:
        user.guide_dismissed_at = timezone.now()
        user.save(update_fields=["guide_dismissed_at"])


def password_expired(user: User) -> bool:
    return password_due(
        must_change_password=False, password_changed_at=user.password_changed_at, now=timezone.now()
    )


# Sign-in ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginState:
    failures: int
    locked: bool
    captcha_required: bool


def login_state(*, request: HttpRequest, username: str) -> LoginState:
    credentials = {"username": username}
    failures = AxesProxyHandler.get_failures(request, credentials) if username else 0
    locked = bool(username) and AxesProxyHandler.is_locked(request, credentials)
    return LoginState(failures, locked, failures >= settings.CAPTCHA_AFTER_FAILURES)


def captcha_check(*, key: str, value: str) -> bool:
    """django-simple-captcha: a key is single-use and expires."""
    if not key or not value:
        return False
    store = CaptchaStore.objects.filter(hashkey=key, expiration__gt=timezone.now()).first()
    if store is None:
        return False
    store.delete()
    return store.response == value.strip().lower()


def _ip_key(request: HttpRequest) -> str:
    return f"login-ip-failures:{client_ip(request)}"


def ip_failures(request: HttpRequest) -> int:
    """Failed sign-ins from this address in the lockout window: many accounts tried from one address get a
    captcha too (never a lockout: a building site's workers share one address)."""
    try:
        return int(cache.get(_ip_key(request)) or 0)
    except Exception:  # noqa: BLE001
        # Sign-in must not need Redis (OPS-01): django-axes keeps each failure and its address in the DB.
        return ip_failures_in_database(request)


def ip_failures_in_database(request: HttpRequest) -> int:
    """The failures django-axes recorded from this address in the lockout window, over all accounts (fewer
    than the cache counts when one of them signed in since: axes forgets that account's failures then)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(ip_address=client_ip(request) or None, attempt_time__gte=since)
    return int(attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)


def ip_failure_count(request: HttpRequest) -> None:
    key = _ip_key(request)
    timeout = int(settings.AXES_COOLOFF_TIME.total_seconds())
    try:
        if not cache.add(key, 1, timeout):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout)
    except Exception:  # noqa: BLE001
        pass  # Redis down: django-axes has counted the failure in the database, where ip_failures() looks


def _audit_refused(request: HttpRequest, username: str, reason: str) -> None:
    target = User.objects.by_login(username).only("pk", "primary_organisation_id").first()
    audit_log(
        action="auth.login",
        result="denied",
        object_type="accounts.user" if target else "",
        object_id=target.pk if target else "",
        organisation_id=target.primary_organisation_id if target else None,
        request=request,
        detail={"reason": reason, "username_ref": id_index_of(username)[:12]},
    )


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return ngettext(
        "Too many failed sign-in attempts: this account is locked for %(minutes)d minute. Please try again "
        "later; if you have forgotten your password, ask your organisation's administrator or customer "
        "service to reset it.",
        "Too many failed sign-in attempts: this account is locked for %(minutes)d minutes. Please try again "
        "later; if you have forgotten your password, ask your organisation's administrator or customer "
        "service to reset it.",
        minutes,
    ) % {"minutes": minutes}


def login_authenticate(
    *, request: HttpRequest, username: str, password: str, captcha_key: str = "", captcha_value: str = ""
) -> User:
    """Check lockout and captcha, then the password. Raises DomainError with the reason shown to the user.

    django-axes counts the failure (through Django's user_login_failed signal) and locks the account after
    AXES_FAILURE_LIMIT failures; the captcha is asked for from CAPTCHA_AFTER_FAILURES on (ACC-02, ACC-04).
    """
    username = (username or "").strip().upper()
    if not username or not password:
        raise DomainError(
            "credentials_required", _("Please enter your ID number (or mobile phone) and password.")
        )
    state = login_state(request=request, username=username)
    if state.locked:
        _audit_refused(request, username, "locked")
        raise DomainError("account_locked", lockout_message(), captcha_required=True)
    if (
        state.captcha_required or ip_failures(request) >= settings.CAPTCHA_AFTER_IP_FAILURES
    ) and not captcha_check(key=captcha_key, value=captcha_value):
        _audit_refused(request, username, "captcha_missing" if not captcha_value else "captcha_wrong")
        raise DomainError(
            "captcha_required" if not captcha_value else "captcha_invalid",
            _("Please enter the characters shown in the captcha image.")
            if not captcha_value
            else _("The captcha is wrong or has expired. Please try again."),
            field="captcha",
            captcha_required=True,
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        ip_failure_count(request)
        state = login_state(request=request, username=username)
        if state.locked or getattr(request, "axes_locked_out", False):
            raise DomainError("account_locked", lockout_message(), captcha_required=True)
        left = settings.AXES_FAILURE_LIMIT - state.failures
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        raise DomainError(
            "invalid_credentials",
            ngettext(
                "The ID number or password is not correct. After %(left)d more failed attempt the account "
                "will be locked for %(minutes)d minutes.",
                "The ID number or password is not correct. After %(left)d more failed attempts the account "
                "will be locked for %(minutes)d minutes.",
                left,
            )
            % {"left": left, "minutes": minutes},
            captcha_required=state.captcha_required,
        )
    return user


# Sessions (ACC-05: one active session per user) --------------------------------------------------------------


@transaction.atomic
def auth_session_start(
    *, user: User, kind: str, secret: str, request: HttpRequest | None = None, end_others: bool = True
) -> AuthSession:
    """Record a new signed-in session and end every other open one of the user (they are told why).

    `end_others=False` for a sign-in still waiting for its second factor: a password alone must not be able to
    sign a staff member out elsewhere; the verified second factor calls this again with the default.
    """
    User.objects.select_for_update().filter(pk=user.pk).first()  # concurrent sign-ins of one user serialise
    others = (
        []
        if not end_others
        else list(
            AuthSession.objects.select_for_update()
            .filter(user=user, ended_at__isnull=True)
            .exclude(key_digest=token_digest(secret))
        )
    )
    now = timezone.now()
    for other in others:
        other.ended_at = now
        other.end_reason = SessionEndReason.ELSEWHERE
        other.save(update_fields=["ended_at", "end_reason"])
    session, _created = AuthSession.objects.update_or_create(
        key_digest=token_digest(secret),
        defaults={
            "user": user,
            "kind": kind,
            "created_at": now,
            "last_seen_at": now,
            "ip": client_ip(request),
            "user_agent": user_agent(request),
            "ended_at": None,
            "end_reason": "",
        },
    )
    if others:
        audit_log(
            action="auth.sessions_ended",
            obj=user,
            actor=user,
            request=request,
            detail={"reason": SessionEndReason.ELSEWHERE, "count": len(others), "new_kind": kind},
        )
    return session


def auth_session_end(*, secret: str, reason: str) -> None:
    AuthSession.objects.filter(key_digest=token_digest(secret), ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )


def auth_session_rekey(*, old_secret: str, new_secret: str) -> None:
    """Follow a browser session whose key Django cycled (it does on a password change): same record, new key."""
    if old_secret and new_secret and old_secret != new_secret:
        AuthSession.objects.filter(key_digest=token_digest(old_secret), ended_at__isnull=True).update(
            key_digest=token_digest(new_secret)
        )


def sessions_end_all(*, user: User, reason: str, except_secret: str | None = None) -> int:
    qs = AuthSession.objects.filter(user=user, ended_at__isnull=True)
    if except_secret:
        qs = qs.exclude(key_digest=token_digest(except_secret))
    return qs.update(ended_at=timezone.now(), end_reason=reason)


def auth_session_for(secret: str) -> AuthSession | None:
    return AuthSession.objects.select_related("user").filter(key_digest=token_digest(secret)).first()


def auth_session_touch(session: AuthSession) -> None:
    """Refresh last_seen_at at most once a minute: no write on every request."""
    now = timezone.now()
    if now - session.last_seen_at > dt.timedelta(seconds=60):
        AuthSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now


def face_check_pending(user: Any, session: AuthSession | None) -> bool:
    """FACE-01 at sign-in (FACE_CHECK_AT_LOGIN): a learner's signed-in session opens nothing but the check until a
    face check passes. Staff who sign in with a second factor (operators, regulators) are not asked."""
    return session is not None and face_check_due(
        session.face_verified_at, is_learner=lambda: face_check_applies(user)
    )


@transaction.atomic
def auth_session_face_result(*, session: AuthSession, passed: bool | None) -> dict[str, Any]:
    """Apply a sign-in face check to the signed-in session: a pass opens it; the configured number of failures
    ends every session of the learner. None (no verdict: the service was down or too slow) counts nothing."""
    session = AuthSession.objects.select_for_update().get(pk=session.pk)
    limit = settings.FACE_LOGIN_MAX_FAILURES
    if passed is None:
        return {"signed_out": False, "tries_left": limit - session.face_failures}
    if passed:
        session.face_verified_at = timezone.now()
        session.face_failures = 0
        session.save(update_fields=["face_verified_at", "face_failures"])
        return {"signed_out": False, "tries_left": limit}
    session.face_failures += 1
    session.save(update_fields=["face_failures"])
    if session.face_failures >= limit:
        sessions_end_all(user=session.user, reason=SessionEndReason.FACE_FAILED)
        audit_log(
            action="face.sign_out",
            obj=session.user,
            actor=session.user,
            result="failure",
            detail={"purpose": "login", "failures": session.face_failures},
        )
        return {"signed_out": True, "tries_left": 0}
    return {"signed_out": False, "tries_left": limit - session.face_failures}


def session_end_message(reason: str) -> str:
    if reason == SessionEndReason.ELSEWHERE:
        return _(
            "Your account has been signed in somewhere else, so this session has ended. If that was not you, "
            "change your password at once."
        )
    if reason == SessionEndReason.PASSWORD_CHANGED:
        return _("Your password has been changed or reset. Please sign in again.")
    if reason == SessionEndReason.IDLE:
        return _("You were signed out after a long time without activity. Please sign in again.")
    if reason == SessionEndReason.FACE_FAILED:
        return _(
            "You were signed out because the face check was not passed (too many failed tries, or not in time). "
            "Sign in again and face the camera in good light; if it keeps failing, ask your unit to check your ID "
            "photo."
        )
    if reason == SessionEndReason.DEACTIVATED:
        return _("This account has been deactivated. Please contact your organisation's administrator.")
    return _("You have been signed out. Please sign in again.")


# API tokens --------------------------------------------------------------------------------------------------


def api_token_issue(*, user: User, request: HttpRequest | None = None) -> str:
    """A bearer token for the player and machine clients; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    auth_session_start(user=user, kind=SessionKind.API, secret=token, request=request)
    # A successful sign-in clears the failure count, as django-axes does for browser sign-ins.
    axes_reset(username=user.id_index)
    audit_log(action="auth.token_issue", obj=user, actor=user, request=request)
    return token


# Two-factor sign-in (NAT-07) -----------------------------------------------------------------------------------


def two_factor_required(user: User) -> bool:
    return settings.REQUIRE_2FA_FOR_STAFF and user.needs_two_factor()


def totp_device(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    for device in devices_for_user(user, confirmed=confirmed):
        if isinstance(device, TOTPDevice):
            return device
    return None


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """Create (or reuse) an unconfirmed authenticator for the user to scan."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def _invalid_otp_message() -> str:
    return _(
        "The dynamic code is not correct. Look up the latest 6-digit code in your authenticator app and "
        "try again."
    )


@transaction.atomic
def totp_device_confirm(*, user: User, token: str) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token((token or "").strip()):
        raise DomainError("invalid_otp", _invalid_otp_message(), field="otp_token")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_log(action="auth.2fa_enrol", obj=user, actor=user)
    return device


def totp_verify(*, user: User, token: str) -> TOTPDevice:
    device = totp_device(user)
    if device is None:
        raise DomainError(
            "two_factor_setup_required",
            _(
                "This account must first link an authenticator app (two-factor authentication) on the website "
                "before it can sign in."
            ),
        )
    if not device.verify_token((token or "").strip()):
        audit_log(action="auth.2fa_verify", obj=user, actor=user, result="failure")
        raise DomainError("invalid_otp", _invalid_otp_message(), field="otp_token")
    audit_log(action="auth.2fa_verify", obj=user, actor=user)
    return device


def auth_housekeeping() -> dict[str, int]:
    """Drop expired browser sessions and captchas; mark their AuthSession records as ended by idleness.

    The audit trail keeps the sign-in history; these tables only serve live sessions.
    """
    from django.contrib.sessions.models import Session

    now = timezone.now()
    expired_keys = list(
        Session.objects.filter(expire_date__lt=now).values_list("session_key", flat=True)[:10000]
    )
    idle = AuthSession.objects.filter(
        kind=SessionKind.WEB, ended_at__isnull=True, key_digest__in=[token_digest(k) for k in expired_keys]
    ).update(ended_at=now, end_reason=SessionEndReason.IDLE)
    idle_cutoff = now - dt.timedelta(minutes=settings.API_TOKEN_IDLE_MINUTES)
    idle += AuthSession.objects.filter(
        kind=SessionKind.API, ended_at__isnull=True, last_seen_at__lt=idle_cutoff
    ).update(ended_at=now, end_reason=SessionEndReason.IDLE)
    sessions, _deleted = Session.objects.filter(session_key__in=expired_keys).delete()
    captchas, _deleted = CaptchaStore.objects.filter(expiration__lt=now).delete()
    return {"sessions_deleted": sessions, "auth_sessions_ended": idle, "captchas_deleted": captchas}
