"""Real-name accounts (ACC-01..08), memberships with roles, sign-in sessions and password history.

The database never holds a plain ID number, name, phone or address: they are EncryptedTextFields, and
lookups by ID number or phone go through keyed blind indexes (`id_index`, `phone_index`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.accounts.identity import IdType, Sex, mask_id_number, mask_name
from safetrain.core.crypto import blind_index
from safetrain.core.fields import EncryptedTextField
from safetrain.orgs.models import Organisation


def id_index_of(number: str) -> str:
    return blind_index(number, purpose="id_number")


def phone_index_of(phone: str) -> str:
    return blind_index(phone, purpose="phone")


def name_index_of(name: str) -> str:
    """The exact-name search key (REG-02): spaces do not count, so 张 伟 and 张伟 match."""
    return blind_index("".join((name or "").split()), purpose="name")


class Role(models.TextChoices):
    LEARNER = "learner", _("Learner")
    ENTERPRISE_ADMIN = "enterprise_admin", _("Enterprise admin")
    INSTITUTION_ADMIN = "institution_admin", _("Institution admin")
    OPERATOR = "operator", _("Platform operator")
    REGULATOR = "regulator", _("Regulator")


# Roles that must sign in with a second factor when REQUIRE_2FA_FOR_STAFF is on (NAT-07).
TWO_FACTOR_ROLES = frozenset({Role.OPERATOR, Role.REGULATOR})
# Those who run a unit: hold its offline sessions and tests, import its people.
UNIT_ADMIN_ROLES = (Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN)


class UserQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> UserQuerySet:
        """People the user may see: itself, plus members of the organisations it may see."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_everything():
            return self.all()
        orgs = Organisation.objects.supervised_by(user)
        if not user.has_role(Role.REGULATOR, Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN):
            return self.filter(pk=user.pk)
        return self.filter(
            Q(pk=user.pk) | Q(memberships__organisation__in=orgs, memberships__is_active=True)
        ).distinct()

    def by_login(self, identifier: str) -> UserQuerySet:
        return self.filter(Q(id_index=id_index_of(identifier)) | Q(phone_index=phone_index_of(identifier)))


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> User:
        return self.get(id_index=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A real-name account. `id_index` (the blind index of the ID number) is the natural key."""

    id_type = models.CharField(
        _("identity type"), max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID
    )
    id_number = EncryptedTextField(_("ID number"))
    id_index = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("ID number index"))
    name = EncryptedTextField(pgettext_lazy("person", "name"))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_region_code = models.CharField(_("region code of ID"), max_length=6, blank=True)
    phone = EncryptedTextField(_("mobile phone"), blank=True, default="")
    phone_index = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False, verbose_name=_("phone index")
    )
    name_index = models.CharField(
        max_length=64, blank=True, db_index=True, editable=False, verbose_name=_("name index")
    )
    primary_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("work unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="primary_members",
    )
    education = models.CharField(_("education"), max_length=40, blank=True)
    years_in_safety_work = models.PositiveSmallIntegerField(_("years in safety work"), null=True, blank=True)
    address = EncryptedTextField(_("address"), blank=True, default="")
    must_change_password = models.BooleanField(_("must change password"), default=False)
    password_changed_at = models.DateTimeField(_("password changed"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("can use the admin site"), default=False)
    date_joined = models.DateTimeField(_("registered"), default=timezone.now)
    # The first-visit guide on a learner's desk (引导语) stays until the learner closes it.
    guide_dismissed_at = models.DateTimeField(_("first-visit guide closed"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "id_index"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{mask_name(self.name)} ({self.masked_id_number})"

    def save(self, *args, **kwargs) -> None:
        self.name_index = name_index_of(self.name) if self.name else ""
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_index"}
        super().save(*args, **kwargs)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number or "")

    @property
    def masked_name(self) -> str:
        return mask_name(self.name or "")

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name

    @property
    def audit_organisation_id(self) -> int | None:
        return self.primary_organisation_id

    def audit_label(self) -> str:
        return f"{self.masked_name} {self.masked_id_number}"

    # Roles and scope ---------------------------------------------------------------------------------
    def active_memberships(self) -> list[Membership]:
        cache = getattr(self, "_memberships_cache", None)
        if cache is None:
            cache = list(
                self.memberships.filter(is_active=True, organisation__is_active=True).select_related(
                    "organisation", "organisation__region"
                )
            )
            self._memberships_cache = cache
        return cache

    def roles(self) -> set[str]:
        return {m.role for m in self.active_memberships()}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles() & set(roles))

    def sees_everything(self) -> bool:
        return self.is_superuser or self.has_role(Role.OPERATOR)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        # Operators run the admin (content, settings, customer service): every model permission, scoped data.
        return (self.is_active and self.has_role(Role.OPERATOR)) or super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        return (self.is_active and self.has_role(Role.OPERATOR)) or super().has_module_perms(app_label)

    def visible_organisations(self) -> models.QuerySet[Organisation]:
        return Organisation.objects.visible_to(self)

    def needs_two_factor(self) -> bool:
        return self.is_superuser or self.has_role(*TWO_FACTOR_ROLES)


class Membership(models.Model):
    """A user's role in an organisation (ORG-02): learner, enterprise admin, institution admin, operator, regulator."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} / {self.get_role_display()}"


class SessionKind(models.TextChoices):
    WEB = "web", _("Browser")
    API = "api", _("API token")


class SessionEndReason(models.TextChoices):
    LOGOUT = "logout", _("Signed out")
    ELSEWHERE = "signed_in_elsewhere", _("Signed in elsewhere")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    IDLE = "idle", _("Idle timeout")
    DEACTIVATED = "deactivated", _("Account deactivated")
    FACE_FAILED = "face_check_failed", _("Identity check not passed")


class AuthSession(models.Model):
    """One signed-in browser session or API token (ACC-05). The secret itself is never stored: only its digest."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    kind = models.CharField(max_length=8, choices=SessionKind.choices)
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=24, choices=SessionEndReason.choices, blank=True)
    # The learner's face check at sign-in (FACE-01), per signed-in session (browser or token).
    face_verified_at = models.DateTimeField(null=True, blank=True)
    face_failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["user", "ended_at"], name="authsession_user_open"),
            # The regulators' "online now" (REG-01): the open sessions seen in the last minutes.
            models.Index(
                fields=["last_seen_at"],
                name="authsession_open_seen",
                condition=models.Q(ended_at__isnull=True),
            ),
        ]
        verbose_name = _("sign-in session")
        verbose_name_plural = _("sign-in sessions")

    def __str__(self) -> str:
        return f"{self.kind} session of user {self.user_id}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class PasswordHistory(models.Model):
    """Earlier password hashes, so a new password cannot repeat a recent one (ACC-03)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("previous password")
        verbose_name_plural = _("previous passwords")

    def __str__(self) -> str:
        return f"password of user {self.user_id} until {self.created_at:%Y-%m-%d}"


class SmsCode(models.Model):
    """A code sent by SMS (password reset, later phone binding). Only a keyed hash of the code is kept; it is
    valid for SMS_CODE_MINUTES and SMS_CODE_MAX_TRIES wrong entries, and used once."""

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset", _("Password reset")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sms_codes")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "created_at"], name="smscode_user_purpose")]
        verbose_name = _("SMS code")
        verbose_name_plural = _("SMS codes")

    def __str__(self) -> str:
        return f"{self.purpose} code of user {self.user_id}"


class Notice(models.Model):
    """A notice to a user on their dashboard (an account opened, a deadline), kept until read."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notices")
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("notice"))
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return self.title
