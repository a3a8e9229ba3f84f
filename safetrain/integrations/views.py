from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.http import bearer_matches
from safetrain.integrations.backup_status import backups_overview
from safetrain.integrations.backups import backup_plan
from safetrain.integrations.models import BackupRun, RestoreDrill
from safetrain.integrations.monitoring import alarm_acknowledge, alarms_receive, alarms_visible_to

MAX_WEBHOOK_BYTES = 2 * 1024 * 1024


@csrf_exempt
@require_POST
def alert_webhook(request: HttpRequest) -> HttpResponse:
    """Alertmanager's webhook receiver (deploy/alertmanager): `Authorization: Bearer ALERT_WEBHOOK_TOKEN`."""
    if not bearer_matches(request, settings.ALERT_WEBHOOK_TOKEN):
        raise Http404  # closed, or not for this caller: nothing to tell
    if len(request.body) > MAX_WEBHOOK_BYTES:
        return JsonResponse({"code": "too_large", "message": "notification too large"}, status=413)
    try:
        payload = json.loads(request.body)
        stored = alarms_receive(payload=payload)
    except (ValueError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else "invalid JSON"
        return JsonResponse({"code": "invalid_alerts", "message": message}, status=400)
    return JsonResponse({"stored": len(stored)})


@staff_required()
def alarms_view(request: HttpRequest) -> HttpResponse:
    """The alarm log (预警记录): every alert of the monitoring, newest first; the unacknowledged on top."""
    alarms = alarms_visible_to(request.user)
    state = request.GET.get("state", "")
    if state == "open":
        alarms = alarms.filter(acknowledged_at__isnull=True)
    page = Paginator(alarms, 50).get_page(request.GET.get("page"))
    open_count = alarms_visible_to(request.user).filter(acknowledged_at__isnull=True).count()
    return render(
        request, "integrations/alarms.html", {"page": page, "state": state, "open_count": open_count}
    )


@staff_required()
@require_POST
def alarm_acknowledge_view(request: HttpRequest, alarm_id: int) -> HttpResponse:
    try:
        alarm_acknowledge(user=request.user, alarm_id=alarm_id, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The alarm is acknowledged."))
    return redirect("ops:alarms")


@staff_required()
def backups_view(request: HttpRequest) -> HttpResponse:
    """The backups (数据备份, OPS-03): per target and repository the last success and failure and what is due next,
    the recent runs and the restore drills."""
    return render(
        request,
        "integrations/backups.html",
        {
            "streams": backups_overview(),
            "database_configured": bool(settings.BACKUP_PGBACKREST_COMMAND),
            "media_configured": bool(settings.BACKUP_RESTIC_COMMAND),
            "planned": bool(backup_plan()),
            "grace_hours": settings.BACKUP_GRACE_HOURS,
            "runs": BackupRun.objects.all()[:50],
            "drills": RestoreDrill.objects.all()[:10],
        },
    )
