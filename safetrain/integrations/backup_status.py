"""What the operators and Prometheus see of the backups (OPS-03): restore drills recorded, each backup stream's
state for the 数据备份 page, and the gauges on /metrics. The schedule and the runs are in integrations.backups."""

from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from prometheus_client.core import GaugeMetricFamily, Metric

from safetrain.core.errors import DomainError
from safetrain.core.metrics import gauge
from safetrain.integrations.backups import (
    MAX_DRILL_DETAILS,
    RESTORE_DRILL_FAILED,
    Decision,
    StreamState,
    _grace,
    _local,
    backup_plan,
    backup_states,
    backups_decide,
    stream_name,
)
from safetrain.integrations.models import BackupKind, BackupRun, BackupTarget, RestoreDrill
from safetrain.integrations.monitoring import alarm_raise, alarm_resolve

# Restore drills -------------------------------------------------------------------------------------------------


@transaction.atomic
def drill_record(
    *,
    ok: bool,
    rto_seconds: float | None,
    rpo_seconds: float | None,
    label: str = "",
    target_time: dt.datetime | None = None,
    details: Any = None,
    started_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
    node: str = "",
) -> RestoreDrill:
    """Record a restore drill (恢复演练) that the drill script (deploy/) ran: a failed one raises the alarm
    RestoreDrillFailed, a successful one resolves it. `details` is the drill's checks, `{"checks": [{"name", "ok",
    "detail"}]}` or just the list, or its steps (RestoreDrill.checks). Without times, the drill ended now and started one RTO earlier."""
    for name, value in (("rto_seconds", rto_seconds), ("rpo_seconds", rpo_seconds)):
        if value is not None and not 0 <= value < 10 * 365 * 86400:
            raise DomainError("invalid_drill", _("RTO and RPO are seconds, not negative."), field=name)
    if isinstance(details, list):
        details = {"checks": details}
    details = details if details is not None else {}
    if not isinstance(details, dict):
        raise DomainError(
            "invalid_drill", _("The details must be a JSON object or a list of checks."), field="details"
        )
    if len(json.dumps(details, ensure_ascii=False)) > MAX_DRILL_DETAILS:
        raise DomainError("invalid_drill", _("The details are too long."), field="details")
    now = timezone.now()
    finished_at = finished_at or now
    started_at = started_at or finished_at - dt.timedelta(seconds=rto_seconds or 0)
    if started_at > finished_at:
        raise DomainError("invalid_drill", _("The drill cannot end before it started."), field="started_at")
    drill = RestoreDrill.objects.create(
        started_at=started_at,
        finished_at=finished_at,
        ok=ok,
        rto_seconds=rto_seconds,
        rpo_seconds=rpo_seconds,
        label=label[:100],
        target_time=target_time,
        details=details,
        node=(node or socket.gethostname())[:100],
        recorded_at=now,
    )
    if ok:
        alarm_resolve(key="restore-drill")
    else:
        failed = [str(c.get("name")) for c in drill.checks() if not c.get("ok")]
        with translation.override(settings.LANGUAGE_CODE):
            alarm_raise(
                name=RESTORE_DRILL_FAILED,
                key="restore-drill",
                summary=_("The restore drill of %(at)s failed") % {"at": _local(finished_at)},
                description=_("Backup %(label)s; failed checks: %(checks)s")
                % {"label": label or "-", "checks": ", ".join(failed) or "-"}
                + (f"\n{drill.failure()[-1000:]}" if drill.failure() else ""),
                labels={"drill": str(drill.pk)},
            )
    return drill


# The operations page and /metrics ---------------------------------------------------------------------------------


@dataclass
class StreamView:
    target: str
    repo: int
    name: str
    planned: bool
    last_success: BackupRun | None
    last_failure: BackupRun | None
    decision: Decision | None

    @property
    def next_kind(self) -> str:
        return BackupKind(self.decision.kind).label if self.decision else ""

    @property
    def due_now(self) -> bool:
        return self.decision is not None and (self.decision.run_now or self.decision.missed)


def backups_overview(*, now: dt.datetime | None = None) -> list[StreamView]:
    """Each stream that is planned or has runs, with its newest success and failure and the schedule's decision."""
    now = now or timezone.now()
    decisions = {(d.stream.target, d.stream.repo): d for d in backups_decide(now)}
    keys = list(decisions)
    for key in backup_states(now):
        if key not in keys:
            keys.append(key)
    views = []
    for target, repo in sorted(keys, key=lambda k: (k[0] != BackupTarget.DATABASE, k[1])):
        runs = BackupRun.objects.filter(target=target, repo=repo)
        views.append(
            StreamView(
                target=target,
                repo=repo,
                name=stream_name(target, repo),
                planned=(target, repo) in decisions,
                last_success=runs.filter(ok=True).first(),
                last_failure=runs.filter(ok=False).order_by("-finished_at", "-pk").first(),
                decision=decisions.get((target, repo)),
            )
        )
    return views


STREAM_GAUGES = {  # safetrain_backup_<name>{target, repo}
    "last_success_timestamp_seconds": "When the newest successful backup ended (Unix time).",
    "last_failure_timestamp_seconds": "When the newest failed backup ended (Unix time).",
    "last_duration_seconds": "How long the newest successful backup took.",
    "last_size_bytes": "The data the newest successful backup holds (pgBackRest: the database; restic: the files).",
    "max_age_seconds": "How old the newest successful backup of a planned stream may be: its period plus the grace.",
    "running": "1 while a backup of a planned stream runs.",
}


def backup_gauges() -> list[Metric]:
    """Scrape-time gauges from the table (registered with core.metrics in IntegrationsConfig.ready)."""
    families = {
        name: GaugeMetricFamily(f"safetrain_backup_{name}", doc, labels=["target", "repo"])
        for name, doc in STREAM_GAUGES.items()
    }

    def put(name: str, target: str, repo: int, value: float) -> None:
        families[name].add_metric([target, str(repo)], value)

    states = backup_states()
    for stream in backup_plan():
        # Any success resets the age, a full one too: the periodic kind's period is the promise to watch.
        put("max_age_seconds", stream.target, stream.repo, (stream.period + _grace()).total_seconds())
        running = states.get((stream.target, stream.repo), StreamState()).running_since
        put("running", stream.target, stream.repo, 1 if running else 0)
    for target, repo in sorted(states):
        runs = BackupRun.objects.filter(target=target, repo=repo, finished_at__isnull=False)
        success = runs.filter(ok=True).order_by("-finished_at", "-pk").first()
        failed = runs.filter(ok=False).order_by("-finished_at", "-pk").first()
        if success is not None:
            put("last_success_timestamp_seconds", target, repo, success.finished_at.timestamp())
            put("last_duration_seconds", target, repo, success.duration_seconds or 0.0)
            if success.size_bytes is not None:
                put("last_size_bytes", target, repo, success.size_bytes)
        if failed is not None:
            put("last_failure_timestamp_seconds", target, repo, failed.finished_at.timestamp())
    configured = GaugeMetricFamily(
        "safetrain_backup_configured", "1 when this installation backs the target up.", labels=["target"]
    )
    configured.add_metric([BackupTarget.DATABASE], 1 if settings.BACKUP_PGBACKREST_COMMAND else 0)
    configured.add_metric([BackupTarget.MEDIA], 1 if settings.BACKUP_RESTIC_COMMAND else 0)
    singles: list[tuple[str, str, float]] = []
    first = BackupRun.objects.filter(ok=True).aggregate(first=Min("finished_at"))["first"]
    if first is not None:
        singles.append(
            (
                "safetrain_backup_first_success_timestamp_seconds",
                "When this installation's first successful backup ended: restore drills are due from then on.",
                first.timestamp(),
            )
        )
    last = RestoreDrill.objects.first()
    if last is not None:
        singles.append(
            ("safetrain_restore_drill_last_ok", "1 when the newest restore drill succeeded.", last.ok)
        )
        if last.rto_seconds is not None:
            singles.append(
                ("safetrain_restore_drill_last_rto_seconds", "The newest drill's RTO.", last.rto_seconds)
            )
        if last.rpo_seconds is not None:
            singles.append(
                ("safetrain_restore_drill_last_rpo_seconds", "The newest drill's RPO.", last.rpo_seconds)
            )
    good = RestoreDrill.objects.filter(ok=True).first()
    if good is not None:
        singles.append(
            (
                "safetrain_restore_drill_last_success_timestamp_seconds",
                "When the newest successful restore drill ended (Unix time).",
                good.finished_at.timestamp(),
            )
        )
    return [*families.values(), configured, *(gauge(name, doc, float(value)) for name, doc, value in singles)]
