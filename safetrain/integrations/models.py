"""The outbox of the data exchange with the provincial supervision platform (INT-01)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.core.fields import EncryptedJSONField


class OutboundState(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    SUPERSEDED = "superseded", "superseded"
    DISCARDED = "discarded", "discarded"  # never sent: no supervision platform is configured


class OutboundRecord(models.Model):
    """One version of one record to push. A record is queued again only when it differs from its newest version;
    a newer version supersedes an older one still waiting. The payload (personal data) is encrypted at rest and
    cleared (NULL) once delivered, superseded or discarded; the receiver keeps it idempotent by id and version."""

    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    record_id = models.CharField(max_length=40, verbose_name=_("record id"))
    version = models.CharField(max_length=64, help_text="SHA-256 of the payload", verbose_name=_("version"))
    payload = EncryptedJSONField(null=True, verbose_name=_("payload"))
    state = models.CharField(
        max_length=10, choices=OutboundState.choices, default=OutboundState.PENDING, verbose_name=_("state")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(db_index=True, verbose_name=_("next attempt at"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbound_due")]
        verbose_name = _("outbound record")
        verbose_name_plural = _("outbound records")

    def __str__(self) -> str:
        return f"{self.kind}:{self.record_id}@{self.version[:8]}"


class DeliveryAttempt(models.Model):
    """The delivery log: every attempt, its answer or error, how long it took."""

    record = models.ForeignKey(OutboundRecord, on_delete=models.CASCADE, related_name="deliveries")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    error = models.TextField(blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.record_id} {self.status_code or self.error[:20]}"


class ExchangeCursor(models.Model):
    """How far each collector (and the revocation pull) has read."""

    name = models.CharField(max_length=30, unique=True)
    value = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("exchange cursor")
        verbose_name_plural = _("exchange cursors")

    def __str__(self) -> str:
        return self.name


class AlarmStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")


class Alarm(models.Model):
    """One alert of the monitoring (预警记录, OPS-02; Guangdong checklist item 25: warn at 70 % of the design load
    and keep the warning log). Alertmanager posts it to the platform's webhook; a later post of the same alert
    (its fingerprint and start) updates it, e.g. when it is resolved. Operators acknowledge it; rows are never
    deleted."""

    fingerprint = models.CharField(max_length=32, verbose_name=_("fingerprint"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    severity = models.CharField(max_length=20, blank=True, verbose_name=_("severity"))
    status = models.CharField(max_length=10, choices=AlarmStatus.choices, verbose_name=_("status"))
    node = models.CharField(max_length=100, blank=True, verbose_name=_("node"))
    summary = models.TextField(blank=True, verbose_name=_("summary"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    labels = models.JSONField(default=dict, verbose_name=_("labels"))
    ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ends at"))
    received_at = models.DateTimeField(verbose_name=_("received at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    notifications = models.PositiveIntegerField(default=1, verbose_name=_("notifications"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))
    acknowledgement_note = models.TextField(blank=True, verbose_name=_("acknowledgement note"))

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["fingerprint", "starts_at"], name="alarm_once")]
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")

    def __str__(self) -> str:
        return f"{self.name} {self.node} {self.starts_at:%Y-%m-%d %H:%M}"


class BackupTarget(models.TextChoices):
    DATABASE = "database", _("Database")
    MEDIA = "media", _("Media files")


class BackupKind(models.TextChoices):
    FULL = "full", _("Full")
    DIFF = "diff", _("Differential")
    INCR = "incr", _("Incremental")
    SNAPSHOT = "snapshot", pgettext_lazy("backup", "Snapshot")  # not a camera's snapshot (抓拍)


class BackupTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    COMMAND = "command", _("Command")


class BackupRun(models.Model):
    """One run of a backup (数据备份, OPS-03): pgBackRest into one of its repositories (1 on site, 2 off site) or
    restic for the media files (repo 0). The row is written when the run starts (ok unknown) and completed when it
    ends; rows are never deleted, so that the table is the proof of the backup schedule.

    `requested_kind` is what the schedule asked for, `kind` what the tool did: pgBackRest turns an incremental or
    differential backup into a full one when the repository holds no full backup yet."""

    target = models.CharField(max_length=10, choices=BackupTarget.choices)
    repo = models.PositiveSmallIntegerField(default=0, help_text="pgBackRest repository; 0 for restic")
    requested_kind = models.CharField(max_length=10, choices=BackupKind.choices)
    kind = models.CharField(max_length=10, choices=BackupKind.choices, blank=True)
    trigger = models.CharField(max_length=10, choices=BackupTrigger.choices, default=BackupTrigger.SCHEDULE)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, help_text="unknown while running")
    exit_code = models.IntegerField(null=True, blank=True)
    label = models.CharField(
        max_length=100, blank=True, help_text="pgBackRest's backup label, restic's snapshot id"
    )
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="the data backed up")
    stored_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="what this run added to the repository"
    )
    node = models.CharField(max_length=100, blank=True)
    output = models.TextField(blank=True, help_text="the end of the tool's output: errors and warnings")

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["target", "repo", "-started_at"], name="backup_run_latest")]
        verbose_name = _("backup run")
        verbose_name_plural = _("backup runs")

    def __str__(self) -> str:
        return f"{self.target}/{self.repo} {self.requested_kind} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RestoreDrill(models.Model):
    """One restore drill (恢复演练, OPS-03 "restore tested"): a backup restored on a spare machine and checked. RTO is
    how long the restore took until the platform answered, RPO how much time of changes the restored copy lacks.
    `details` holds each check of the drill, as `{"checks": [{"name", "ok", "detail"}]}` or as the drill script
    (deploy/drill.py) writes its steps, `{"steps": [{"step", "seconds", "result"}], "failure": "..."}`. Never
    deleted."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    rto_seconds = models.FloatField(null=True, blank=True)
    rpo_seconds = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True, help_text="the backup restored")
    target_time = models.DateTimeField(null=True, blank=True, help_text="point-in-time recovery target")
    details = models.JSONField(default=dict)
    node = models.CharField(max_length=100, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-finished_at", "-pk"]
        verbose_name = _("restore drill")
        verbose_name_plural = _("restore drills")

    def __str__(self) -> str:
        return f"restore drill {self.finished_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'failed'}"

    def checks(self) -> list[dict]:
        """Each check as {"name", "ok", "detail"}, from either shape of `details`."""
        details = self.details if isinstance(self.details, dict) else {}
        checks = [c for c in details.get("checks") or [] if isinstance(c, dict)]
        for step in details.get("steps") or []:
            if isinstance(step, dict):
                result, seconds = str(step.get("result", "")), step.get("seconds")
                detail = f"{result} ({seconds} s)" if seconds is not None else result
                checks.append({"name": step.get("step", ""), "ok": result != "FAILED", "detail": detail})
        return checks

    def failure(self) -> str:
        return str(self.details.get("failure") or "") if isinstance(self.details, dict) else ""
