"""The outbox of the data exchange with the provincial supervision platform (INT-01)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboundState(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    SUPERSEDED = "superseded", "superseded"


class OutboundRecord(models.Model):
    """One version of one record to push. A record is queued again only when it differs from its newest version;
    a newer version supersedes an older one still waiting. Once delivered, the payload (personal data) is cleared;
    the receiver keeps it idempotent by id and version."""

    kind = models.CharField(max_length=16)
    record_id = models.CharField(max_length=40)
    version = models.CharField(max_length=64, help_text="SHA-256 of the payload")
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=OutboundState.choices, default=OutboundState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbound_due")]

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

    def __str__(self) -> str:
        return f"{self.record_id} {self.status_code or self.error[:20]}"


class ExchangeCursor(models.Model):
    """How far each collector (and the revocation pull) has read."""

    name = models.CharField(max_length=30, unique=True)
    value = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(null=True, blank=True)

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

    fingerprint = models.CharField(max_length=32)
    starts_at = models.DateTimeField()
    name = models.CharField(max_length=100)
    severity = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=AlarmStatus.choices)
    node = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True)
    labels = models.JSONField(default=dict)
    ends_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    notifications = models.PositiveIntegerField(default=1)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["fingerprint", "starts_at"], name="alarm_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.node} {self.starts_at:%Y-%m-%d %H:%M}"
