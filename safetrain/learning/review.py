"""The suspicious-event review queue (ANTI-05): operators dismiss or confirm; confirming cheating cancels every
credited second of the learner in that programme (kept in the records as cancelled, never deleted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError
from safetrain.learning.models import (
    DailyCredit,
    Enrolment,
    LessonProgress,
    ReviewDecision,
    StudyRecord,
    StudyRecordKind,
    SuspicionReview,
    SuspiciousEvent,
    SuspiciousKind,
)
from safetrain.records.services import audit_log


@dataclass(frozen=True)
class QueueRow:
    enrolment: Enrolment
    total: int
    kinds: dict[str, int]
    last_at: Any


def review_queue() -> list[QueueRow]:
    """Enrolments with suspicious events not yet reviewed, the most events first."""
    pending = SuspiciousEvent.objects.filter(review__isnull=True)
    per_kind: dict[int, dict[str, int]] = {}
    for row in pending.values("enrolment_id", "kind").annotate(n=Count("id")):
        per_kind.setdefault(row["enrolment_id"], {})[str(SuspiciousKind(row["kind"]).label)] = row["n"]
    totals = pending.values("enrolment_id").annotate(n=Count("id"), last=Max("at")).order_by("-n")
    enrolments = Enrolment.objects.select_related("learner", "programme", "organisation").in_bulk(
        [t["enrolment_id"] for t in totals]
    )
    return [
        QueueRow(enrolments[t["enrolment_id"]], t["n"], per_kind[t["enrolment_id"]], t["last"])
        for t in totals
    ]


@transaction.atomic
def suspicion_decide(*, enrolment: Enrolment, decision: str, reason: str, reviewer: Any) -> SuspicionReview:
    if decision not in ReviewDecision.values:
        raise DomainError("invalid_decision", _("Choose dismiss or confirm."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "reason_required",
            _("Give the reason for the decision; it is kept in the record."),
            field="reason",
        )
    now = timezone.now()
    # Lock the enrolment first: certificate issuing locks it too, so a certificate is either issued before the
    # decision (and revoked by it) or sees the confirmed review and is never issued.
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    events = SuspiciousEvent.objects.select_for_update().filter(enrolment=enrolment, review__isnull=True)
    review = SuspicionReview.objects.create(
        enrolment=enrolment,
        decision=decision,
        reason=reason,
        reviewer=reviewer,
        events_reviewed=events.count(),
        at=now,
    )
    events.update(review=review)
    cancelled = 0.0
    if decision == ReviewDecision.CONFIRMED:
        for progress in LessonProgress.objects.select_for_update().filter(enrolment=enrolment).order_by("pk"):
            if progress.credited_seconds <= 0:
                continue
            StudyRecord.objects.create(
                at=now,
                learner_id=enrolment.learner_id,
                enrolment=enrolment,
                lesson_id=progress.lesson_id,
                kind=StudyRecordKind.CANCELLED,
                credited_seconds=-progress.credited_seconds,
                accepted=False,
                reasons=["cheating_confirmed", f"review:{review.pk}"],
            )
            cancelled += progress.credited_seconds
            progress.cancelled_seconds += progress.credited_seconds
            progress.credited_seconds = 0
            progress.watched = []
            progress.furthest_position = 0
            progress.completed_at = None
            progress.save()
        # The cap stays used (the time was spent), but those days no longer count as study days.
        DailyCredit.objects.filter(enrolment=enrolment).update(cancelled_seconds=F("seconds"))
        review.cancelled_seconds = cancelled
        review.save(update_fields=["cancelled_seconds"])
        # CERT-05: and every certificate of the programme is revoked, with the reason and the date.
        from safetrain.certification.services import revoke_for_enrolment  # certification builds on learning

        revoke_for_enrolment(enrolment=enrolment, reason=reason, actor=reviewer)
    audit_log(
        action=f"anti_cheat.{decision}",
        obj=enrolment,
        organisation_id=enrolment.organisation_id,
        detail={
            "learner": enrolment.learner_id,
            "programme": enrolment.programme_id,
            "events": review.events_reviewed,
            "cancelled_seconds": round(cancelled, 1),
        },
    )
    return review
