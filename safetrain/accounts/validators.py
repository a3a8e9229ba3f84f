"""Password rules (ACC-03, GB/T 22239 level 3): character classes, not the ID number, not a recent password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CharacterClassesValidator:
    """At least `min_classes` of: upper-case letters, lower-case letters, digits, other characters."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        classes = [
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
        if sum(classes) < self.min_classes:
            raise ValidationError(
                _(
                    "The password must mix at least %(n)d of: upper-case letters, lower-case letters, digits, "
                    "symbols."
                )
                % {"n": self.min_classes},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("Use at least %(n)d of: upper-case letters, lower-case letters, digits, symbols.") % {
            "n": self.min_classes
        }


class NotIdNumberValidator:
    def validate(self, password: str, user: Any = None) -> None:
        number = (getattr(user, "id_number", "") or "").upper()
        if number and (number in password.upper() or password.upper() in number):
            raise ValidationError(
                _("The password must not be or contain your ID number."), code="password_is_id"
            )

    def get_help_text(self) -> str:
        return _("The password must not be your ID number.")


class PasswordHistoryValidator:
    """Not one of the last `remember` passwords: the current one and the `remember - 1` before it.

    Each comparison is a full password hash (slow on purpose), so none is made twice: when the caller has just
    verified the current password it sets ``user.verified_password`` and the current one is compared as text.
    """

    def __init__(self, remember: int = 5) -> None:
        self.remember = remember

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None):
            return
        known_current = getattr(user, "verified_password", None)
        hashes = [user.password] if user.password and known_current is None else []
        hashes += list(user.password_history.values_list("password", flat=True)[: max(self.remember - 1, 0)])
        if password == known_current or any(check_password(password, h) for h in hashes):
            raise ValidationError(
                ngettext(
                    "The new password must differ from your last password.",
                    "The new password must differ from your last %(n)d passwords.",
                    self.remember,
                )
                % {"n": self.remember},
                code="password_reused",
            )

    def get_help_text(self) -> str:
        return _("Do not reuse a recent password.")
