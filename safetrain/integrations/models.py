"""The outbox of the data exchange with the provincial supervision platform (INT-01)."""

from __future__ import annotations

from django.db import models


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
