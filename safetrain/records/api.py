"""Operation-log search API (REC-03), scoped."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from safetrain.core.errors import PermissionDenied
from safetrain.records.selectors import audit_search, can_search_audit

router = Router(tags=["audit"])


class AuditOut(Schema):
    seq: int
    at: dt.datetime
    actor_id: int | None
    actor_label: str
    organisation_id: int | None
    ip: str
    action: str
    object_type: str
    object_id: str
    result: str
    detail: dict


@router.get("/audit", response={200: list[AuditOut], 403: dict}, summary="Search the operation log")
def audit(
    request: HttpRequest,
    action: str = Query("", max_length=80),
    result: str = Query("", max_length=16),
    actor_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    if not can_search_audit(request.auth):
        raise PermissionDenied("forbidden", _("You are not allowed to view the operation log."))
    qs = audit_search(
        viewer=request.auth,
        action=action,
        result=result,
        actor_id=actor_id,
        date_from=date_from,
        date_to=date_to,
    )
    return Status(200, list(qs[offset : offset + limit]))
