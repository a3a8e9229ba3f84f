"""LRN-08 / UX-02 (issue 27 item 20): the desk (首页) counts the enrolment applications waiting for review and the
invoice requests waiting to be issued, among the calls the viewer's units organise (operators: all)."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.utils import timezone

from safetrain.catalog.models import RegionProfile
from safetrain.catalog.services import programme_create
from safetrain.enterprise.desk import applications_to_review, invoices_due
from safetrain.enterprise.models import (
    ApplicationStatus,
    EnrolmentApplication,
    EnrolmentCall,
    InvoiceRequest,
    InvoiceState,
    Order,
)


def application(call, n: int, status=ApplicationStatus.SUBMITTED) -> EnrolmentApplication:
    return EnrolmentApplication.objects.create(
        call=call,
        kind="unit",
        unit_name=f"单位{n}",
        token=secrets.token_urlsafe(32),
        submitted_at=timezone.now(),
        status=status,
    )


def test_lrn_08_the_desk_counts_applications_and_invoices_of_the_viewers_calls(world, web_client):
    programme = programme_create(
        code="desk-initial",
        profile=RegionProfile.objects.get(code="guangdong_online"),
        name="主要负责人初训",
        kind="initial",
        audience="other",
        required_minutes=60,
    )
    call = EnrolmentCall.objects.create(
        organiser=world.ent_nanshan, title="年度培训报名", initial_programme=programme
    )
    waiting = application(call, 1)
    other = application(call, 2)
    application(call, 3, status=ApplicationStatus.APPROVED)
    order = Order.objects.create(application=waiting, number="D0001", amount=Decimal(800), state="paid")
    InvoiceRequest.objects.create(
        order=order,
        buyer_name="南山建设公司",
        email="cw@example.cn",
        requested_at=timezone.now(),
        due_on=timezone.localdate() + dt.timedelta(days=7),
    )
    issued = Order.objects.create(application=other, number="D0002", amount=Decimal(300), state="paid")
    InvoiceRequest.objects.create(
        order=issued,
        buyer_name="南山建设公司",
        email="cw@example.cn",
        requested_at=timezone.now(),
        due_on=timezone.localdate(),
        state=InvoiceState.ISSUED,
    )
    assert (applications_to_review(world.admin_nanshan), invoices_due(world.admin_nanshan)) == (2, 1)
    assert (applications_to_review(world.operator), invoices_due(world.operator)) == (2, 1)
    assert (applications_to_review(world.admin_futian), invoices_due(world.admin_futian)) == (0, 0)
    assert applications_to_review(world.regulator_nanshan) is None
    assert invoices_due(world.learner_nanshan) is None
    html = web_client(world.admin_nanshan).get("/").content.decode()
    assert '<a href="/enrol/manage/?status=submitted"><strong data-count="2">2</strong>' in html
    assert '<a href="/enrol/manage/invoices/"><strong data-count="1">1</strong>' in html
