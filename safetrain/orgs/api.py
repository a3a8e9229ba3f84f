"""Organisations and regions API (scoped)."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from safetrain.orgs.models import Organisation, Region

router = Router(tags=["organisations"])


class RegionOut(Schema):
    code: str
    name: str
    level: str


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    region: RegionOut
    industry: str
    is_high_risk: bool
    project_status: str
    is_active: bool


def org_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.pk,
        name=org.name,
        kind=org.kind,
        parent_id=org.parent_id,
        region=RegionOut(code=org.region.code, name=org.region.name, level=org.region.level),
        industry=org.industry,
        is_high_risk=org.is_high_risk,
        project_status=org.project_status,
        is_active=org.is_active,
    )


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations visible to the user")
def organisations(
    request: HttpRequest,
    kind: str = "",
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    qs = Organisation.objects.visible_to(request.auth).select_related("region")
    if kind:
        qs = qs.filter(kind=kind)
    return [org_out(o) for o in qs[offset : offset + limit]]


@router.get("/organisations/{org_id}", response={200: OrganisationOut, 404: dict}, summary="One organisation")
def organisation(request: HttpRequest, org_id: int):
    org = get_object_or_404(Organisation.objects.visible_to(request.auth).select_related("region"), pk=org_id)
    return Status(200, org_out(org))


@router.get(
    "/regions", response=list[RegionOut], summary="Regions: provinces, or the children of a region code"
)
def regions(request: HttpRequest, parent: str = Query("", max_length=6, pattern=r"^\d{0,6}$")):
    qs = Region.objects.filter(parent__code=parent) if parent else Region.objects.filter(parent__isnull=True)
    return [RegionOut(code=r.code, name=r.name, level=r.level) for r in qs]
