"""The alarm log (预警记录, OPS-02): Alertmanager's webhook posts alerts here, operators see and acknowledge them.

Alertmanager's webhook format (version 4): `{"version": "4", "status", "alerts": [{"status", "labels",
"annotations", "startsAt", "endsAt", "fingerprint", ...}], ...}`. Each alert is one row, keyed by its fingerprint
and start; a repeated or resolved notification updates that row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError, NotFound, PermissionDenied
from safetrain.integrations.models import Alarm, AlarmStatus
from safetrain.records.services import audit_log

MAX_ALERTS = 500  # Alertmanager sends at most a group's alerts; a larger post is refused


def _when(value: Any) -> dt.datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    # Alertmanager's "zero time" (0001-01-01) for an alert without an end.
    if parsed is None or parsed.year < 2000:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)


def _text(value: Any, limit: int) -> str:
    return str(value)[:limit] if value is not None else ""


@transaction.atomic
def alarms_receive(*, payload: dict[str, Any]) -> list[Alarm]:
    """Store the alerts of one Alertmanager notification; returns the rows created or updated."""
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list) or not alerts or len(alerts) > MAX_ALERTS:
        raise DomainError("invalid_alerts", _("The notification holds no alerts in Alertmanager's format."))
    now = timezone.now()
    stored = []
    for alert in alerts:
        if not isinstance(alert, dict):
            raise DomainError("invalid_alerts", _("Every alert must be an object."))
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
        annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
        starts_at = _when(alert.get("startsAt"))
        fingerprint = _text(alert.get("fingerprint"), 32)
        if starts_at is None or not fingerprint or not labels.get("alertname"):
            raise DomainError("invalid_alerts", _("An alert lacks its name, fingerprint or start time."))
        status = AlarmStatus.RESOLVED if alert.get("status") == "resolved" else AlarmStatus.FIRING
        alarm, created = Alarm.objects.select_for_update().get_or_create(
            fingerprint=fingerprint,
            starts_at=starts_at,
            defaults={
                "name": _text(labels["alertname"], 100),
                "received_at": now,
                "updated_at": now,
                "status": status,
            },
        )
        alarm.severity = _text(labels.get("severity"), 20)
        alarm.node = _text(labels.get("node") or labels.get("instance"), 100)
        alarm.summary = _text(annotations.get("summary"), 2000)
        alarm.description = _text(annotations.get("description"), 4000)
        alarm.labels = {str(k)[:100]: _text(v, 500) for k, v in list(labels.items())[:50]}
        # A resolved alert stays resolved: a late "firing" repeat of the same occurrence does not reopen it.
        if alarm.status != AlarmStatus.RESOLVED:
            alarm.status = status
        if status == AlarmStatus.RESOLVED:
            alarm.ends_at = _when(alert.get("endsAt")) or now
        alarm.updated_at = now
        if not created:
            alarm.notifications += 1
        alarm.save()
        stored.append(alarm)
    return stored


def alarm_fingerprint(key: str) -> str:
    """The fingerprint of an alarm the platform raises itself: 32 hex digits (Alertmanager's have 16), stable for
    one `key` such as "backup:database:1"."""
    return hashlib.sha256(f"safetrain:{key}".encode()).hexdigest()[:32]


@transaction.atomic
def alarm_raise(
    *,
    name: str,
    key: str,
    summary: str,
    description: str = "",
    severity: str = "critical",
    labels: dict | None = None,
) -> Alarm:
    """Write an alarm that the platform detects itself (a failed or missed backup) into the alarm log, so that it
    reaches the operators even when Prometheus or Alertmanager does not run. While the alarm of `key` is firing,
    raising it again updates that entry (its text, the count of notifications); after it is resolved, a new one
    starts."""
    now = timezone.now()
    fingerprint = alarm_fingerprint(key)
    alarm = (
        Alarm.objects.select_for_update()
        .filter(fingerprint=fingerprint, status=AlarmStatus.FIRING)
        .order_by("-starts_at")
        .first()
    )
    if alarm is None:
        alarm = Alarm(fingerprint=fingerprint, starts_at=now, received_at=now, notifications=0)
    alarm.name = name[:100]
    alarm.severity = severity[:20]
    alarm.status = AlarmStatus.FIRING
    alarm.node = socket.gethostname()[:100]
    alarm.summary = summary[:2000]
    alarm.description = description[:4000]
    alarm.labels = {
        "alertname": name,
        "severity": severity,
        "source": "safetrain",
        "key": key,
        **(labels or {}),
    }
    alarm.updated_at = now
    alarm.notifications += 1
    alarm.save()
    return alarm


@transaction.atomic
def alarm_resolve(*, key: str) -> int:
    """The condition behind the platform's alarm `key` is over: its firing entry is resolved. Returns how many."""
    now = timezone.now()
    return Alarm.objects.filter(fingerprint=alarm_fingerprint(key), status=AlarmStatus.FIRING).update(
        status=AlarmStatus.RESOLVED, ends_at=now, updated_at=now
    )


def alarms_visible_to(user: Any) -> QuerySet[Alarm]:
    """Operators (the platform's own staff) see the alarm log; nobody else does."""
    if not getattr(user, "is_authenticated", False) or not user.sees_everything():
        return Alarm.objects.none()
    return Alarm.objects.select_related("acknowledged_by")


@transaction.atomic
def alarm_acknowledge(*, user: Any, alarm_id: int, note: str = "") -> Alarm:
    """An operator confirms having seen the alarm (and what was done), with an entry in the operation log."""
    if not getattr(user, "is_authenticated", False) or not user.sees_everything():
        raise PermissionDenied("forbidden", _("Only the platform's operators acknowledge alarms."))
    alarm = Alarm.objects.select_for_update().filter(pk=alarm_id).first()
    if alarm is None:
        raise NotFound("alarm_not_found", _("This alarm does not exist."))
    if alarm.acknowledged_at is not None:
        raise DomainError("already_acknowledged", _("This alarm was already acknowledged."))
    note = note.strip()
    if len(note) > 1000:
        raise DomainError(
            "note_too_long",
            _("The note may be at most 1000 characters long. Please shorten it."),
            field="note",
        )
    alarm.acknowledged_by = user
    alarm.acknowledged_at = timezone.now()
    alarm.acknowledgement_note = note
    alarm.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_note"])
    audit_log(action="ops.alarm_acknowledge", obj=alarm, detail={"alarm": alarm.pk, "name": alarm.name})
    return alarm
