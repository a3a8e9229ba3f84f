"""Reads over accounts, always through the scoping rule."""

from __future__ import annotations

from django.db.models import QuerySet

from safetrain.accounts.models import User, id_index_of, name_index_of


def people_search(
    *, viewer: User, organisation_id: int | None = None, id_number: str = "", name: str = ""
) -> QuerySet[User]:
    """“My people” (我的人员), the one definition every people page uses: the people with an active membership in an
    organisation the viewer may see, that is the viewer's own unit and all its sub-units (projects, teams), or a
    regulator's region. Narrowed to one organisation and everything under it (the enterprise people pages pass
    their unit), to one ID number or one full name (both exact: they are stored encrypted and found through their
    blind indexes)."""
    qs = User.objects.visible_to(viewer).select_related("primary_organisation")
    if organisation_id is not None:
        org = viewer.visible_organisations().filter(pk=organisation_id).first()
        if org is None:
            return qs.none()
        qs = qs.filter(memberships__organisation__path__startswith=org.path, memberships__is_active=True)
    if id_number.strip():
        qs = qs.filter(id_index=id_index_of(id_number.strip().upper()))
    if name.strip():
        qs = qs.filter(name_index=name_index_of(name))
    return qs.distinct().order_by("pk")
