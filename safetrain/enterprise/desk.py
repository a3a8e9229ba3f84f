"""What enrolment puts on the desk (首页): applications waiting for review and invoice requests waiting to be
issued, among the calls the viewer's units organise. Registered from EnterpriseConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from safetrain.accounts.desk import todo_register
from safetrain.accounts.models import UNIT_ADMIN_ROLES
from safetrain.enterprise.applications import managed_calls
from safetrain.enterprise.models import ApplicationStatus, EnrolmentApplication, InvoiceRequest, InvoiceState


def _reviews_enrolment(user: Any) -> bool:
    return user.sees_everything() or user.has_role(*UNIT_ADMIN_ROLES)


def applications_to_review(user: Any) -> int | None:
    if not _reviews_enrolment(user):
        return None
    return EnrolmentApplication.objects.filter(
        call__in=managed_calls(user), status=ApplicationStatus.SUBMITTED
    ).count()


def invoices_due(user: Any) -> int | None:
    """Invoice requests not issued yet (due within five working days of the request)."""
    if not _reviews_enrolment(user):
        return None
    return InvoiceRequest.objects.filter(
        order__application__call__in=managed_calls(user), state=InvoiceState.REQUESTED
    ).count()


def register() -> None:
    todo_register(
        name="applications",
        label=_("Applications to review"),
        url_name="enrolment:manage",
        query=f"status={ApplicationStatus.SUBMITTED}",
        count=applications_to_review,
        order=10,
    )
    todo_register(
        name="invoices", label=_("Invoices due"), url_name="enrolment:invoices", count=invoices_due, order=20
    )
