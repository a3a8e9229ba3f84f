"""Reads over the people of units: “my people” as every enterprise page shows them (ENT-01)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from safetrain.accounts.models import Membership, name_index_of
from safetrain.accounts.selectors import people_search
from safetrain.enterprise.models import Personnel
from safetrain.orgs.models import Organisation


def unit_people(
    *, viewer: Any, unit: Organisation, name: str = "", include_left: bool = True
) -> list[Personnel]:
    """The people of `unit` and all its sub-units (projects, teams), one row each, on site first.

    The set is accounts' “my people” (people_search narrowed to the unit), so 人员, 人员管理 and 人员培训汇总 agree;
    each person comes with their staff record (job type, on site or left) where the unit or a sub-unit holds one:
    the one on site, else the deepest. People who left keep their record but no membership, and are listed after
    the others when `include_left`. A person of the unit without a staff record (an account opened by other means)
    gets an unsaved record: on site, no job type."""
    users = list(people_search(viewer=viewer, organisation_id=unit.pk, name=name))
    wanted = {u.pk for u in users}
    condition = Q(user_id__in=wanted)
    if include_left:
        condition |= Q(on_site=False)
    records = Personnel.objects.filter(condition, organisation__path__startswith=unit.path).select_related(
        "user", "job_type", "organisation"
    )
    if name.strip():
        records = records.filter(user__name_index=name_index_of(name))
    if not include_left:
        records = records.filter(on_site=True)
    best = _deepest(records)
    missing = [u for u in users if u.pk not in best]
    if missing:
        homes = dict(
            Membership.objects.filter(
                user__in=missing, is_active=True, organisation__path__startswith=unit.path
            )
            .order_by("pk")
            .values_list("user_id", "organisation_id")
        )
        for user in missing:
            best[user.pk] = Personnel(
                organisation_id=homes.get(user.pk, unit.pk), user=user, on_site=True, joined_on=None
            )
    return sorted(best.values(), key=lambda p: (not p.on_site, p.pk is None, p.pk or 0, p.user_id))


def _deepest(records: Any) -> dict[int, Personnel]:
    """One staff record per person: the one on site, else (and among those) the deepest unit's."""
    best: dict[int, Personnel] = {}
    for record in records:
        held = best.get(record.user_id)
        if held is None or (record.on_site, len(record.organisation.path)) > (
            held.on_site,
            len(held.organisation.path),
        ):
            best[record.user_id] = record
    return best


def unit_records(unit: Organisation) -> list[Personnel]:
    """The staff records of `unit` and its sub-units, one per person, on site first."""
    records = Personnel.objects.filter(organisation__path__startswith=unit.path).select_related(
        "user", "job_type", "organisation"
    )
    return sorted(_deepest(records).values(), key=lambda p: (not p.on_site, p.pk))


def on_site_records(unit: Organisation) -> list[Personnel]:
    """The staff records of the people on site in `unit` and its sub-units, one per person (the deepest unit's):
    those who can be put in a class and who count in the project report."""
    best: dict[int, Personnel] = {}
    for record in (
        Personnel.objects.filter(organisation__path__startswith=unit.path, on_site=True)
        .select_related("user", "job_type", "organisation")
        .order_by("pk")
    ):
        held = best.get(record.user_id)
        if held is None or len(record.organisation.path) > len(held.organisation.path):
            best[record.user_id] = record
    return sorted(best.values(), key=lambda p: p.pk)
