"""Searching the audit trail (REC-03), scoped to what the viewer may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from safetrain.core.crypto import blind_index
from safetrain.records.actions import actions_matching
from safetrain.records.models import AuditEntry

# Who may search the operation log at all: operators, regulators and unit administrators.
AUDIT_ROLES = ("operator", "regulator", "enterprise_admin", "institution_admin")


def can_search_audit(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and (
        user.sees_everything() or user.has_role(*AUDIT_ROLES)
    )


def _people_named(name: str) -> QuerySet:
    """Users with exactly this name (names are encrypted: found by their blind index, spaces ignored)."""
    index = blind_index("".join(name.split()), purpose="name")
    return get_user_model().objects.filter(name_index=index).values("pk")


def audit_search(
    *,
    viewer: Any,
    action: str = "",
    who: str = "",
    result: str = "",
    actor_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    if not can_search_audit(viewer):
        return AuditEntry.objects.none()
    qs = AuditEntry.objects.visible_to(viewer)
    if action:
        # People type what they read ("登录"); a code prefix ("auth.") still works for those who know them.
        qs = qs.filter(Q(action__in=actions_matching(action)) | Q(action__startswith=action.strip()))
    if who:
        qs = qs.filter(actor_id__in=_people_named(who))
    if result:
        qs = qs.filter(result=result)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs.order_by("-seq")
