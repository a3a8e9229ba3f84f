"""``{% if request.user|resets_passwords %}``: whether to offer “重置密码” next to people (the page itself checks the
person: only learners of the administrator's own organisations)."""

from __future__ import annotations

from typing import Any

from django import template

from safetrain.accounts.models import Role

register = template.Library()


@register.filter
def resets_passwords(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.sees_everything() or user.has_role(Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN))
    )
