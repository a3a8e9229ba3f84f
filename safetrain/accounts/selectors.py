"""Reads over accounts, always through the scoping rule."""

from __future__ import annotations

from django.db.models import QuerySet

from safetrain.accounts.models import User, id_index_of


def people_search(*, viewer: User, organisation_id: int | None = None, id_number: str = "") -> QuerySet[User]:
    """People the viewer may see, optionally narrowed to an organisation subtree or one ID number (exact)."""
    qs = User.objects.visible_to(viewer).select_related("primary_organisation")
    if organisation_id is not None:
        org = viewer.visible_organisations().filter(pk=organisation_id).first()
        if org is None:
            return qs.none()
        qs = qs.filter(memberships__organisation__path__startswith=org.path, memberships__is_active=True)
    if id_number.strip():
        qs = qs.filter(id_index=id_index_of(id_number.strip().upper()))
    return qs.distinct().order_by("pk")
