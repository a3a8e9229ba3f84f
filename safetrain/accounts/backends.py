"""Sign-in by ID number, or by mobile phone where the policy keeps phones (ACC-02)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from safetrain.accounts.models import User, id_index_of, phone_index_of


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """What django-axes records as the username: the blind index, so no plain ID number reaches its tables."""
    raw = str((credentials or {}).get("username") or "").strip().upper()
    if not raw:
        return ""
    if settings.POLICY_KEEP_PHONES:
        # A phone login counts against the same account as an ID-number login: one lockout per person.
        by_phone = (
            User.objects.filter(phone_index=phone_index_of(raw)).values_list("id_index", flat=True).first()
        )
        if by_phone:
            return by_phone
    return id_index_of(raw)


class IdentityBackend(ModelBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or not password:
            return None
        identifier = username.strip().upper()
        user = User.objects.filter(id_index=id_index_of(identifier)).first()
        if user is None and settings.POLICY_KEEP_PHONES:
            user = User.objects.filter(phone_index=phone_index_of(identifier)).first()
        if user is None:
            User().set_password(
                password
            )  # same work as a real check: no timing hint that the account is missing
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
