"""Complaints and feedback (投诉与意见反馈, REG-05; the platform's after-sales system of seeds/004 附件1 4).

- Anyone sends a complaint, suggestion or question, about the platform or about a unit (a training institution,
  an enterprise): signed-in learners as themselves, visitors with a name and a phone. The answer is due within
  three working days; the sender follows it on its page (an unguessable address).
- The platform's operators handle every one and may hand it to an admin of the unit it concerns; that admin
  answers. Regulators see, read-only, those about the units of their region.
- The sender closes it (with a 1-5 satisfaction mark) or reopens it when the answer does not solve it; an answer
  left without reply for seven days closes by itself. Time to answer and overdue ones are counted.
- A visitor's phone serves the answer only: it is erased when the complaint closes (POL-PHONE, GD#14: no learners'
  contact details are kept).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.services import normalise_phone
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise.applications import add_working_days
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log
from safetrain.regulator.models import Complaint, ComplaintEvent, ComplaintKind, ComplaintState

ANSWER_WORKING_DAYS = 3
AUTO_CLOSE_DAYS = 7


def _event(complaint: Complaint, action: str, actor: Any, note: str = "") -> None:
    ComplaintEvent.objects.create(
        complaint=complaint,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        at=timezone.now(),
        note=note,
    )
    audit_log(
        action=f"regulator.complaint_{action}",
        actor=actor if getattr(actor, "pk", None) else None,
        obj=complaint,
        organisation_id=complaint.about_id,
        detail={"number": complaint.number, "state": complaint.state},
    )


def complaint_submit(
    *,
    kind: str,
    title: str,
    text: str,
    about: Organisation | None = None,
    submitter: Any = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Complaint:
    if kind not in ComplaintKind.values:
        raise DomainError("invalid_kind", _("Choose complaint, suggestion or question."), field="kind")
    title, text = " ".join((title or "").split()), (text or "").strip()
    if not title:
        raise DomainError("field_required", _("Give your message a subject."), field="title")
    if len(text) < 10:
        raise DomainError(
            "too_short",
            _("Describe what happened in a few sentences (at least 10 characters)."),
            field="text",
        )
    if len(text) > 5000:
        raise DomainError("too_long", _("At most 5,000 characters, please."), field="text")
    signed_in = getattr(submitter, "is_authenticated", False)
    if not signed_in:
        contact_name = " ".join((contact_name or "").split())
        if not contact_name:
            raise DomainError(
                "field_required", _("Give your name, so that we can answer you."), field="contact_name"
            )
        phone = normalise_phone(contact_phone)
        if not phone:
            raise DomainError(
                "field_required",
                _("Give your mobile phone number, so that we can answer you."),
                field="contact_phone",
            )
        contact_phone = phone
    now = timezone.now()
    for _try in range(5):  # the number is random: draw again in the rare case it is taken
        number = f"TS{timezone.localtime(now):%y%m%d}{secrets.randbelow(10**6):06d}"
        if not Complaint.objects.filter(number=number).exists():
            break
    with transaction.atomic():
        complaint = Complaint.objects.create(
            number=number,
            kind=kind,
            about=about,
            title=title[:120],
            text=text,
            submitter=submitter if signed_in else None,
            contact_name="" if signed_in else contact_name[:60],
            contact_phone="" if signed_in else contact_phone,
            token=secrets.token_urlsafe(32),
            submitted_at=now,
            due_on=add_working_days(timezone.localdate(), ANSWER_WORKING_DAYS),
        )
        _event(complaint, "submit", submitter)
    return complaint


def handles(user: Any, complaint: Complaint) -> bool:
    """Operators handle every complaint; an admin handles one assigned to them."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.sees_everything() or complaint.assignee_id == user.pk


def staff_complaints(user: Any) -> QuerySet[Complaint]:
    """Operators: all. Admins: those assigned to them. Regulators: those about the units of their region."""
    qs = Complaint.objects.select_related("about", "assignee")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.sees_everything():
        return qs
    condition = Q(assignee=user)
    if user.has_role("regulator"):
        condition |= Q(about__in=Organisation.objects.supervised_by(user))
    return qs.filter(condition)


def complaint_assign(*, complaint: Complaint, assignee: Any, actor: Any) -> Complaint:
    """An operator hands the complaint to an admin of the unit it concerns (or to another operator)."""
    if not getattr(actor, "is_authenticated", False) or not actor.sees_everything():
        raise PermissionDenied("forbidden", _("Only the platform's operators assign complaints."))
    admin_of_unit = (
        complaint.about is not None
        and Organisation.objects.administered_by(assignee).filter(pk=complaint.about_id).exists()
    )
    if not (assignee.sees_everything() or admin_of_unit):
        raise DomainError(
            "not_responsible",
            _("Assign it to an admin of the unit it concerns, or to an operator."),
            field="assignee",
        )
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if complaint.state == ComplaintState.CLOSED:
            raise DomainError("closed", _("This complaint is closed."))
        complaint.assignee, complaint.assigned_at = assignee, timezone.now()
        if complaint.state == ComplaintState.OPEN:
            complaint.state = ComplaintState.ASSIGNED
        complaint.save(update_fields=["assignee", "assigned_at", "state"])
        _event(complaint, "assign", actor, assignee.masked_name)
    return complaint


def complaint_answer(*, complaint: Complaint, response: str, actor: Any) -> Complaint:
    complaint = Complaint.objects.get(pk=complaint.pk)
    if not handles(actor, complaint):
        raise PermissionDenied(
            "forbidden", _("Only the operators or the person it is assigned to answer it.")
        )
    response = (response or "").strip()
    if len(response) < 5:
        raise DomainError("too_short", _("Write the answer (it is what the sender reads)."), field="response")
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if complaint.state == ComplaintState.CLOSED:
            raise DomainError("closed", _("This complaint is closed."))
        complaint.response, complaint.answered_by, complaint.answered_at = response, actor, timezone.now()
        complaint.state = ComplaintState.ANSWERED
        complaint.save(update_fields=["response", "answered_by", "answered_at", "state"])
        _event(complaint, "answer", actor, response)
    return complaint


def complaint_reply(
    *, complaint: Complaint, solved: bool, rating: int | None = None, note: str = ""
) -> Complaint:
    """The sender's reply to the answer: solved (closed, with a 1-5 satisfaction mark) or not (reopened)."""
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if complaint.state != ComplaintState.ANSWERED:
            raise DomainError("not_answered", _("You can reply once the complaint has been answered."))
        if solved:
            if rating not in (1, 2, 3, 4, 5):
                raise DomainError("rating_required", _("Give a mark from 1 to 5."), field="rating")
            complaint.state, complaint.closed_at, complaint.rating = (
                ComplaintState.CLOSED,
                timezone.now(),
                rating,
            )
            complaint.contact_phone = ""  # answered and closed: the phone has served its purpose
            complaint.save(update_fields=["state", "closed_at", "rating", "contact_phone"])
            _event(complaint, "close", complaint.submitter, note)
        else:
            note = (note or "").strip()
            if not note:
                raise DomainError("field_required", _("Say what is still not solved."), field="note")
            complaint.state = ComplaintState.ASSIGNED if complaint.assignee_id else ComplaintState.OPEN
            complaint.due_on = add_working_days(timezone.localdate(), ANSWER_WORKING_DAYS)
            complaint.save(update_fields=["state", "due_on"])
            _event(complaint, "reopen", complaint.submitter, note)
    return complaint


def complaints_close_stale(now: dt.datetime | None = None) -> int:
    """Close answers left without reply for AUTO_CLOSE_DAYS (the scheduled job)."""
    now = now or timezone.now()
    closed = 0
    for complaint in Complaint.objects.filter(
        state=ComplaintState.ANSWERED, answered_at__lte=now - dt.timedelta(days=AUTO_CLOSE_DAYS)
    ):
        # Only if it is still answered and unreplied: a reopen at the same moment wins.
        if Complaint.objects.filter(pk=complaint.pk, state=ComplaintState.ANSWERED).update(
            state=ComplaintState.CLOSED, closed_at=now, contact_phone=""
        ):
            complaint.state = ComplaintState.CLOSED
            _event(complaint, "close", None, "auto")
            closed += 1
    return closed


@dataclass
class ComplaintStats:
    total: int
    open: int
    overdue: int
    answered: int
    median_hours_to_answer: float | None
    rated: int
    mean_rating: float | None


def complaint_stats(complaints: QuerySet[Complaint]) -> ComplaintStats:
    today = timezone.localdate()
    rows = list(
        complaints.select_related(None).only("state", "due_on", "submitted_at", "answered_at", "rating")
    )
    waiting = [c for c in rows if c.state in (ComplaintState.OPEN, ComplaintState.ASSIGNED)]
    hours = sorted(c.hours_to_answer for c in rows if c.answered_at is not None)
    ratings = [c.rating for c in rows if c.rating]
    median = None
    if hours:
        middle = len(hours) // 2
        median = hours[middle] if len(hours) % 2 else round((hours[middle - 1] + hours[middle]) / 2, 1)
    return ComplaintStats(
        total=len(rows),
        open=len(waiting),
        overdue=sum(1 for c in waiting if c.due_on < today),
        answered=len(hours),
        median_hours_to_answer=median,
        rated=len(ratings),
        mean_rating=round(sum(ratings) / len(ratings), 1) if ratings else None,
    )
