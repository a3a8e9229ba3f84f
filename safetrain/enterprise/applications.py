"""Enrolment applications, fees, payments and invoices (ENR-01..03), as the Guangzhou notice (seeds/002) runs them.

1. A unit sends its enrolment form (附件1: 单位名称, 联系人, 联系电话, 邮寄证书信息, then 序号 姓名 身份证号码 手机号码
   证书类型 培训类别), or an individual fills in the same details for themselves. Every faulty row is reported and
   nothing is saved; sending the same file again gives the same application.
2. An order holds the fees: each trainee's programme (initial or refresher training of the call) at its fee
   (800 / 300 yuan in the demo).
3. Payment: scan-to-pay through the payment gateway (its signed notification, or a query of the gateway), or a
   bank transfer that staff reconcile against the bank statement (the memo must carry the trainees' names).
4. The organiser's staff review the application; once it is approved and paid, the trainees' accounts are
   opened (initial password, enrolment with the study window, 30 days) and each trainee gets a notice.
5. Refunds: staff record one while the study window is open; after it lapses the fee is not refunded
   (逾期账号作废，培训费用不退).
6. Invoice requests (ENR-03) for paid orders: buyer's full name, taxpayer ID (统一社会信用代码, its check character
   verified), e-mail; due within five working days (the State Council's holiday calendar, `chinesecalendar`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.models import Notice, Role, User, id_index_of, phone_index_of
from safetrain.accounts.services import membership_grant, user_create
from safetrain.catalog.models import Programme
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.core.excel import RowError
from safetrain.enterprise.models import (
    ApplicantKind,
    ApplicationStatus,
    ApplicationTrainee,
    BankTransfer,
    CertificateType,
    EnrolmentApplication,
    EnrolmentCall,
    InvoiceRequest,
    InvoiceState,
    Order,
    OrderState,
    Payment,
    PaymentMethod,
    TrainingKind,
)
from safetrain.enterprise.roster import Row, check_person, clean_name, read_roster
from safetrain.integrations import payments
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.learning.services import enrolment_create
from safetrain.orgs.models import Organisation
from safetrain.orgs.services import normalise_uscc
from safetrain.records.services import audit_log
from safetrain.regulator.counters import touch_enrolment as statistics_touch

CERTIFICATE_TYPE_OF = {
    "主要负责人": CertificateType.PRINCIPAL,
    "安全生产管理人员": CertificateType.SAFETY_MANAGER,
}
TRAINING_KIND_OF = {"初始培训": TrainingKind.INITIAL, "再培训": TrainingKind.REFRESHER}
INVOICE_WORKING_DAYS = 5

logger = logging.getLogger(__name__)


def open_calls() -> QuerySet[EnrolmentCall]:
    return EnrolmentCall.objects.filter(is_open=True).select_related(
        "organiser", "initial_programme", "refresher_programme"
    )


def managed_calls(user: Any) -> QuerySet[EnrolmentCall]:
    """The calls whose applications the user reviews: its organisers' staff, operators."""
    return EnrolmentCall.objects.filter(organiser__in=Organisation.objects.administered_by(user))


def _check_staff(actor: Any, call: EnrolmentCall) -> None:
    if actor is not None and not managed_calls(actor).filter(pk=call.pk).exists():
        raise PermissionDenied("forbidden", _("Only the organiser's staff handle these applications."))


def programme_for(call: EnrolmentCall, kind: str) -> Programme:
    programme = call.initial_programme if kind == TrainingKind.INITIAL else call.refresher_programme
    if programme is None:
        raise DomainError("no_refresher", _("This call takes initial training only, not refresher training."))
    if programme.fee is None:
        raise DomainError(
            "no_fee",
            _("No fee is set for %(p)s yet: please contact the organiser.") % {"p": programme.name},
        )
    return programme


# Applying -----------------------------------------------------------------------------------------------------


@dataclass
class ApplicationResult:
    application: EnrolmentApplication | None = None
    errors: list[RowError] = field(default_factory=list)
    again: bool = False  # the same file was sent before: that application
    phones_ignored: int = 0  # trainees' phone numbers not kept: their programme's region keeps none (GD#14)


def call_keeps_phones(call: EnrolmentCall) -> bool:
    """POL-PHONE: whether the call's programmes keep trainees' phone numbers (a Guangdong call does not, GD#14)."""
    return all(
        p.profile.keep_phones for p in (call.initial_programme, call.refresher_programme) if p is not None
    )


@dataclass
class _Trainee:
    row: int
    name: str
    id_number: str
    phone: str
    certificate_type: str
    training_kind: str
    programme: Programme


def _check_rows(
    call: EnrolmentCall, rows: list[Row], errors: list[RowError], ignored: list[int] | None = None
) -> list[_Trainee]:
    """The trainees of the rows; faults go to `errors`. A row whose programme's region keeps no phones (GD#14) has
    its phone neither checked nor kept: its row number goes to `ignored` when it had one."""
    seen_ids: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    trainees = []
    for row in rows:
        problems: list[RowError] = []

        def fault(column: str, message: str, row: Row = row, problems: list[RowError] = problems) -> None:
            problems.append(RowError(row.number, column, message))

        chosen = None
        kind_cell = (row.cells.get("培训类别") or "").strip('“”"')  # as check_person reads it
        if kind_cell in TRAINING_KIND_OF:
            initial = TRAINING_KIND_OF[kind_cell] == TrainingKind.INITIAL
            chosen = call.initial_programme if initial else call.refresher_programme
        keep_phone = chosen is None or chosen.profile.keep_phones
        if not keep_phone:
            if (row.cells.get("手机号码") or "").strip() and ignored is not None:
                ignored.append(row.number)
            row = Row(row.number, {**row.cells, "手机号码": ""})
        name, id_number, phone, certificate, kind = check_person(
            row, "guangzhou", seen_ids, seen_phones, fault
        )
        if keep_phone and not phone and not any(p.column == "手机号码" for p in problems):
            # 附件1: 手机号码必须填写学员本人的手机号码，一人一号，用于开通学习账号
            fault("手机号码", _("The learner's own mobile phone number is required to open the account."))
        programme = None
        if kind in TRAINING_KIND_OF:
            try:
                programme = programme_for(call, TRAINING_KIND_OF[kind])
            except DomainError as error:
                fault("培训类别", error.message)
        if problems:
            errors.extend(problems)
        else:
            trainees.append(
                _Trainee(
                    row.number,
                    name,
                    id_number,
                    phone,
                    CERTIFICATE_TYPE_OF[certificate],
                    TRAINING_KIND_OF[kind],
                    programme,
                )
            )
    return _not_twice(call, trainees, errors)


def _not_twice(call: EnrolmentCall, trainees: list[_Trainee], errors: list[RowError]) -> list[_Trainee]:
    """Nobody twice: not in another live application of the call (a refund of one would void the other's
    enrolment), not already enrolled and studying or done in the programme."""
    indexes = {id_index_of(t.id_number): t for t in trainees}
    live = {
        t.id_index: t.application
        for t in ApplicationTrainee.objects.filter(application__call=call, id_index__in=indexes)
        .exclude(application__status=ApplicationStatus.REJECTED)
        .exclude(application__order__state__in=[OrderState.CANCELLED, OrderState.REFUNDED])
        .select_related("application", "application__order")
    }
    today = timezone.localdate()
    enrolled = {
        (e.learner.id_index, e.programme_id): e
        for e in Enrolment.objects.filter(learner__id_index__in=indexes)
        .exclude(status=EnrolmentStatus.VOID)
        .select_related("learner")
    }
    out = []
    for index, trainee in indexes.items():
        application = live.get(index)
        enrolment = enrolled.get((index, trainee.programme.pk))
        if application is not None:
            errors.append(
                RowError(
                    trainee.row,
                    "身份证号码",
                    _(
                        "%(name)s is already in the application of %(day)s (order %(order)s): do not apply twice."
                    )
                    % {
                        "name": trainee.name,
                        "day": timezone.localtime(application.submitted_at).date().isoformat(),
                        "order": application.order.number,
                    },
                )
            )
        elif enrolment is not None and (
            enrolment.status == EnrolmentStatus.COMPLETED
            or enrolment.deadline is None
            or enrolment.deadline >= today
        ):
            errors.append(
                RowError(
                    trainee.row,
                    "培训类别",
                    _(
                        "%(name)s is already enrolled in %(p)s (or has completed it): choose the right training kind."
                    )
                    % {"name": trainee.name, "p": trainee.programme.name},
                )
            )
        else:
            out.append(trainee)
    return out


def _details(values: dict[str, str], errors: list[RowError], row: int = 0) -> dict[str, str]:
    """Contact and mailing details (the form's header block): all required; the phones checked."""
    labels = {
        "contact": "联系人",
        "contact_phone": "联系电话",
        "recipient": "收件人",
        "recipient_phone": "收件人电话",
        "address": "地址",
    }
    out = {}
    for key, label in labels.items():
        value = " ".join((values.get(key) or "").split())
        if not value:
            errors.append(
                RowError(
                    row,
                    label,
                    _("“%(label)s” is missing: fill it in (the certificates are mailed there).")
                    % {"label": label},
                )
            )
        elif key.endswith("phone"):
            digits = "".join(ch for ch in value if ch.isdigit() or ch == "-")
            if not 7 <= len(digits.replace("-", "")) <= 12:
                errors.append(
                    RowError(row, label, _("“%(label)s” is not a phone number.") % {"label": label})
                )
        elif len(value) > 200:
            errors.append(RowError(row, label, _("“%(label)s” is too long.") % {"label": label}))
        out[key] = value
    return out


def _create(
    *,
    call: EnrolmentCall,
    kind: str,
    unit: Organisation | None,
    unit_name: str,
    details: dict[str, str],
    trainees: list[_Trainee],
    sha256: str = "",
    invoice: dict[str, str] | None = None,
    actor: Any = None,
) -> EnrolmentApplication:
    now = timezone.now()
    invoice = invoice or {}
    with transaction.atomic():
        application = EnrolmentApplication.objects.create(
            call=call,
            kind=kind,
            unit=unit,
            unit_name=unit_name,
            contact_name=details["contact"],
            contact_phone=details["contact_phone"],
            mail_recipient=details["recipient"],
            mail_phone=details["recipient_phone"],
            mail_address=details["address"],
            token=secrets.token_urlsafe(32),
            source_sha256=sha256,
            invoice_buyer=invoice.get("buyer_name", ""),
            invoice_taxpayer_id=invoice.get("taxpayer_id", ""),
            invoice_email=invoice.get("email", ""),
            submitted_by=actor if getattr(actor, "is_authenticated", False) else None,
            submitted_at=now,
        )
        ApplicationTrainee.objects.bulk_create(
            [
                ApplicationTrainee(
                    application=application,
                    row=t.row,
                    name=t.name,
                    id_number=t.id_number,
                    id_index=id_index_of(t.id_number),
                    phone=t.phone,
                    certificate_type=t.certificate_type,
                    training_kind=t.training_kind,
                    programme=t.programme,
                    fee=t.programme.fee,
                )
                for t in trainees
            ]
        )
        Order.objects.create(
            application=application,
            number=_order_number(now),
            amount=sum((t.programme.fee for t in trainees), Decimal("0.00")),
        )
        audit_log(
            action="enrolment.apply",
            actor=application.submitted_by,
            obj=application,
            organisation_id=call.organiser_id,
            detail={"kind": kind, "trainees": len(trainees), "unit": unit_name},
        )
    return application


def _order_number(now: dt.datetime) -> str:
    for _try in range(5):
        number = f"DD{timezone.localtime(now):%y%m%d}{secrets.randbelow(10**10):010d}"
        if not Order.objects.filter(number=number).exists():
            return number
    raise DomainError("order_number", _("Please try again."))


def application_from_file(
    *, call: EnrolmentCall, data: bytes, unit: Organisation | None = None, actor: Any = None
) -> ApplicationResult:
    """A unit's application: its filled-in enrolment form (附件1)."""
    if not call.is_open:
        raise DomainError("call_closed", _("This call for enrolment is closed."))
    if (
        unit is not None
        and actor is not None
        and not Organisation.objects.administered_by(actor).filter(pk=unit.pk).exists()
    ):
        raise PermissionDenied("forbidden", _("You can only apply for your own units."))
    roster = read_roster(data)
    if roster.template != "guangzhou":
        raise DomainError(
            "wrong_template",
            _("Use the enrolment form (附件1, columns 序号 姓名 身份证号码 手机号码 证书类型 培训类别)."),
            field="file",
        )
    sha256 = hashlib.sha256(data).hexdigest()
    earlier = (
        EnrolmentApplication.objects.filter(call=call, unit=unit, source_sha256=sha256)
        .exclude(status=ApplicationStatus.REJECTED)
        .first()
    )
    if earlier is not None:
        return ApplicationResult(earlier, again=True)
    errors: list[RowError] = []
    unit_name = " ".join((roster.header.get("unit") or (unit.name if unit else "")).split())
    if not unit_name:
        errors.append(
            RowError(0, "单位名称", _("“%(label)s” is missing: fill it in.") % {"label": "单位名称"})
        )
    details = _details(roster.header, errors)
    invoice = _invoice_details(roster.header, errors)
    ignored: list[int] = []
    trainees = _check_rows(call, roster.rows, errors, ignored)
    if not roster.rows:
        errors.append(RowError(0, "参训人员信息", _("The form lists no trainees.")))
    if errors:
        return ApplicationResult(errors=sorted(errors, key=lambda e: e.row), phones_ignored=len(ignored))
    application = _create(
        call=call,
        kind=ApplicantKind.UNIT,
        unit=unit,
        unit_name=unit_name,
        details=details,
        trainees=trainees,
        sha256=sha256,
        invoice=invoice,
        actor=actor,
    )
    return ApplicationResult(application, phones_ignored=len(ignored))


def _invoice_details(header: dict[str, str], errors: list[RowError]) -> dict[str, str]:
    """附件1's invoice block (开票单位信息): all three or none (the invoice can then be requested later)."""
    buyer = " ".join((header.get("invoice_title") or "").split())
    taxpayer_id = (header.get("taxpayer_id") or "").strip().upper()
    email = (header.get("invoice_email") or "").strip()
    if not (buyer or taxpayer_id or email):
        return {}
    try:
        checked = _invoice_fields(buyer, taxpayer_id, email, unit=True)
    except DomainError as error:
        label = {"buyer_name": "开票单位全称", "taxpayer_id": "纳税人识别号", "email": "电子邮箱"}.get(
            error.field, "开票单位信息"
        )
        errors.append(RowError(0, label, error.message))
        return {}
    return checked


def application_individual(
    *, call: EnrolmentCall, values: dict[str, str], actor: Any = None
) -> ApplicationResult:
    """An individual's application: the same details for one trainee (name, ID number, phone, certificate type,
    training kind) and the mailing details."""
    if not call.is_open:
        raise DomainError("call_closed", _("This call for enrolment is closed."))
    row = Row(
        1,
        {
            "姓名": values.get("name", ""),
            "身份证号码": values.get("id_number", ""),
            "手机号码": values.get("phone", ""),
            "证书类型": values.get("certificate_type", ""),
            "培训类别": values.get("training_kind", ""),
        },
    )
    errors: list[RowError] = []
    ignored: list[int] = []
    trainees = _check_rows(call, [row], errors, ignored)
    keep_phone = call_keeps_phones(call) and not ignored
    details = _details(
        {
            "contact": values.get("name", ""),
            # Where the trainee's own phone is not kept (GD#14), the organiser reaches them through the certificate
            # recipient's phone the form asks for anyway.
            "contact_phone": values.get("phone", "") if keep_phone else values.get("recipient_phone", ""),
            "recipient": values.get("recipient", ""),
            "recipient_phone": values.get("recipient_phone", ""),
            "address": values.get("address", ""),
        },
        errors,
        row=1,
    )
    if errors:
        return ApplicationResult(errors=errors)
    return ApplicationResult(
        _create(
            call=call,
            kind=ApplicantKind.INDIVIDUAL,
            unit=None,
            unit_name=values.get("unit_name", "").strip()[:120],
            details=details,
            trainees=trainees,
            actor=actor,
        )
    )


# Review and account opening -----------------------------------------------------------------------------------


def application_review(
    *, application: EnrolmentApplication, approve: bool, note: str = "", actor: Any
) -> EnrolmentApplication:
    _check_staff(actor, application.call)
    note = (note or "").strip()
    with transaction.atomic():
        application = EnrolmentApplication.objects.select_for_update().get(pk=application.pk)
        if application.status != ApplicationStatus.SUBMITTED:
            raise DomainError("already_reviewed", _("This application has been reviewed already."))
        order = Order.objects.select_for_update().get(application=application)
        if not approve:
            if not note:
                raise DomainError(
                    "reason_required",
                    _("Say why the application is rejected: the applicant reads it."),
                    field="note",
                )
            if order.state == OrderState.PAID:
                raise DomainError(
                    "paid_already", _("This application is paid: record the refund first, then reject it.")
                )
        application.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
        application.reviewed_by = actor
        application.reviewed_at = timezone.now()
        application.review_note = note
        application.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        if not approve and order.state == OrderState.UNPAID:
            order.state = OrderState.CANCELLED
            order.save(update_fields=["state"])
        audit_log(
            action="enrolment.review",
            actor=actor,
            obj=application,
            organisation_id=application.call.organiser_id,
            detail={"approved": approve, "note": note},
        )
    after_payment_or_review(application)
    return application


def after_payment_or_review(application: EnrolmentApplication) -> None:
    """Once an application is both approved and paid: open the accounts and request the invoice the form asked
    for. Run after the payment or the review is committed: a failure here (logged and recorded; staff can open
    the accounts again) never undoes a payment."""
    application = EnrolmentApplication.objects.select_related("call", "order").get(pk=application.pk)
    order = application.order
    if order.state != OrderState.PAID:
        return
    if application.invoice_buyer and not order.invoice_requests.exclude(state=InvoiceState.REJECTED).exists():
        try:
            invoice_request(
                order=order,
                buyer_name=application.invoice_buyer,
                taxpayer_id=application.invoice_taxpayer_id,
                email=application.invoice_email,
            )
        except DomainError:
            logger.exception("invoice request of application %s", application.pk)
    if application.status != ApplicationStatus.APPROVED:
        return
    try:
        accounts_open(application)
    except Exception as error:  # noqa: BLE001 - recorded for staff, who open the accounts again
        logger.exception("accounts of application %s could not be opened", application.pk)
        audit_log(
            action="enrolment.accounts_open",
            result="failure",
            obj=application,
            organisation_id=application.call.organiser_id,
            detail={"error": getattr(error, "message", type(error).__name__)},
        )


def accounts_open(application: EnrolmentApplication) -> int:
    """Open the trainees' accounts of an approved, paid application (once each, each in its own transaction): an
    account with the initial password where there is none, the enrolment with the call's study window, and a
    notice. Returns how many were opened."""
    call = application.call
    today = timezone.localdate()
    deadline = today + dt.timedelta(days=call.study_days)
    opened = 0
    for trainee in application.trainees.filter(opened_at__isnull=True).select_related("programme"):
        with transaction.atomic():
            if (
                not ApplicationTrainee.objects.select_for_update()
                .filter(pk=trainee.pk, opened_at__isnull=True)
                .exists()
            ):
                continue  # opened by a concurrent run
            user = User.objects.filter(id_index=trainee.id_index).first()
            if user is None:
                phone = trainee.phone
                if phone and User.objects.filter(phone_index=phone_index_of(phone)).exists():
                    phone = ""  # someone else's account has it: the trainee adds a phone on the profile page
                user = user_create(
                    id_number=trainee.id_number,
                    name=trainee.name,
                    organisation=application.unit,
                    role=Role.LEARNER,
                    phone=phone,
                    keep_phone=trainee.programme.profile.keep_phones,
                )
            elif application.unit is not None:
                membership_grant(user=user, organisation=application.unit, role=Role.LEARNER)
            enrolment = Enrolment.objects.filter(learner=user, programme=trainee.programme).first()
            fresh = (
                enrolment is None
                or enrolment.status == EnrolmentStatus.VOID
                or (
                    enrolment.status == EnrolmentStatus.ACTIVE
                    and enrolment.deadline is not None
                    and enrolment.deadline < today
                )
            )
            if enrolment is None:
                enrolment = enrolment_create(
                    learner=user, programme=trainee.programme, organisation=application.unit, opened_on=today
                )
            elif fresh:
                # Enrolled again after a lapsed or refunded one: what was studied then stays studied.
                enrolment.status, enrolment.opened_on = EnrolmentStatus.ACTIVE, today
            # The call's window from today; an enrolment still running (a class put the person in meanwhile)
            # keeps a later deadline of its own, and a refund leaves it alone.
            enrolment.deadline = (
                deadline if fresh or enrolment.deadline is None else max(enrolment.deadline, deadline)
            )
            enrolment.save(update_fields=["status", "opened_on", "deadline", "updated_at"])
            trainee.user, trainee.enrolment, trainee.opened_at = user, enrolment, timezone.now()
            trainee.opened_enrolment = fresh
            trainee.save(update_fields=["user", "enrolment", "opened_at", "opened_enrolment"])
            Notice.objects.create(
                user=user,
                title=_("Your study account is open"),
                body=_(
                    "You are enrolled in %(programme)s. Sign in with your ID number (initial password: the last six "
                    "characters of the ID number, unless you changed it) and finish the study and the exam by "
                    "%(deadline)s; after that date the account lapses and the fee is not refunded."
                )
                % {"programme": trainee.programme.name, "deadline": enrolment.deadline.isoformat()},
                link=reverse("learning:my_programmes"),
            )
        opened += 1
    if opened:
        audit_log(
            action="enrolment.accounts_open",
            obj=application,
            organisation_id=call.organiser_id,
            detail={"opened": opened},
        )
    return opened


# Payments -----------------------------------------------------------------------------------------------------


def payment_received(
    *,
    order: Order,
    method: str,
    amount: Decimal,
    reference: str,
    payer: str = "",
    memo: str = "",
    actor: Any = None,
    detail: dict | None = None,
    strict: bool = True,
) -> Order:
    """Book a payment of the whole order, once: the same reference again changes nothing.

    Money that does not pay the order (a wrong amount, an order already paid, cancelled or refunded) is refused
    when staff book it (`strict`); from the gateway, where the money has arrived whatever we say, it is recorded
    with its problem for staff to refund, and the order stays as it was."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Payment.objects.filter(reference=reference).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise DomainError(
                    "payment_elsewhere",
                    _("This payment is booked to order %(n)s already.") % {"n": existing.order.number},
                )
            return order
        problem = ""
        if amount != order.amount:
            problem = "amount_differs"
            message = _("The payment is %(paid)s yuan but the order is %(due)s yuan: it was not booked.") % {
                "paid": f"{amount:.2f}",
                "due": f"{order.amount:.2f}",
            }
        elif order.state != OrderState.UNPAID:
            problem = "not_payable"
            message = _(
                "Order %(n)s is not waiting for a payment (%(state)s): check the bank statement again."
            ) % {"n": order.number, "state": order.get_state_display()}
        if problem and strict:
            raise DomainError(problem, message)
        Payment.objects.create(
            order=order,
            method=method,
            amount=amount,
            reference=reference,
            payer=payer[:120],
            memo=memo[:200],
            problem=problem,
            recorded_by=actor,
            at=timezone.now(),
            detail=detail or {},
        )
        application = EnrolmentApplication.objects.select_related("call").get(pk=order.application_id)
        if problem:
            audit_log(
                action="enrolment.payment_problem",
                result="failure",
                actor=actor,
                obj=order,
                organisation_id=application.call.organiser_id,
                detail={"problem": problem, "amount": str(amount), "reference": reference},
            )
            return order
        order.state, order.method, order.paid_at = OrderState.PAID, method, timezone.now()
        order.save(update_fields=["state", "method", "paid_at"])
        audit_log(
            action="enrolment.paid",
            actor=actor,
            obj=order,
            organisation_id=application.call.organiser_id,
            detail={"method": method, "amount": str(amount), "reference": reference},
        )
    after_payment_or_review(application)
    order.refresh_from_db()
    return order


def notify_url() -> str:
    from django.conf import settings

    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("enrolment:payment_notify")


def pay_start(order: Order) -> Order:
    """Start scan-to-pay: the gateway's payment for the order (the same one again if it exists)."""
    order = Order.objects.select_related("application__call").get(pk=order.pk)
    if order.state != OrderState.UNPAID:
        raise DomainError("not_payable", _("This order is not waiting for a payment."))
    intent = payments.gateway().create(
        order_number=order.number,
        amount=order.amount,
        subject=f"{order.application.call.title} {order.number}"[:100],
        notify_url=notify_url(),
    )
    order.gateway_ref, order.pay_url = intent.payment_id, intent.pay_url
    order.save(update_fields=["gateway_ref", "pay_url"])
    return order


def _gateway_status(status: payments.PaymentStatus) -> Order | None:
    order = Order.objects.filter(number=status.order_number).first()
    if order is None:
        raise DomainError("unknown_order", _("There is no such order."))
    if status.status != "paid":
        return None
    return payment_received(
        order=order,
        method=PaymentMethod.GATEWAY,
        amount=status.amount,
        reference=f"GW-{status.payment_id}",
        detail={"paid_at": status.paid_at},
        strict=False,
    )


def gateway_notification(body: bytes, signature: str) -> Order | None:
    """The gateway's notification (signed): a paid payment books the order."""
    return _gateway_status(payments.gateway().verify_notification(body, signature))


def pay_check(order: Order) -> Order:
    """Ask the gateway (the payer says they have paid; a notification may have been lost)."""
    order = Order.objects.get(pk=order.pk)
    if order.state != OrderState.UNPAID:
        return order
    if not order.gateway_ref:
        raise DomainError("not_started", _("Scan-to-pay has not been started for this order."))
    booked = _gateway_status(payments.gateway().query(order.number))
    return booked or order


# Bank transfers (对公转账) ---------------------------------------------------------------------------------------


def managed_organisers(user: Any) -> QuerySet[Organisation]:
    return Organisation.objects.filter(pk__in=managed_calls(user).values("organiser_id"))


def bank_transfer_record(
    *,
    organiser: Organisation,
    reference: str,
    day: dt.date,
    amount: Decimal,
    payer: str,
    memo: str,
    actor: Any,
) -> BankTransfer:
    """A line of the organiser's bank statement, entered by its staff (once per serial number)."""
    if not managed_organisers(actor).filter(pk=organiser.pk).exists():
        raise PermissionDenied("forbidden", _("Only the organiser's staff handle these applications."))
    reference = (reference or "").strip()[:64]
    if not reference:
        raise DomainError(
            "field_required", _("Enter the bank's serial number of the transfer."), field="reference"
        )
    if amount is None or amount <= 0:
        raise DomainError("invalid_amount", _("Enter the amount received, in yuan."), field="amount")
    try:
        with transaction.atomic():
            transfer = BankTransfer.objects.create(
                organiser=organiser,
                reference=reference,
                day=day,
                amount=amount,
                payer=(payer or "").strip()[:120],
                memo=(memo or "").strip()[:200],
                recorded_by=actor,
            )
    except IntegrityError as error:
        raise DomainError(
            "duplicate_transfer",
            _("The transfer %(ref)s has been entered already.") % {"ref": reference},
            field="reference",
        ) from error
    audit_log(
        action="enrolment.bank_transfer",
        actor=actor,
        obj=transfer,
        organisation_id=organiser.pk,
        detail={"amount": str(amount)},
    )
    return transfer


def _names(order: Order) -> list[str]:
    return [clean_name(t.name) for t in order.application.trainees.all()]


def memo_names_missing(transfer: BankTransfer, order: Order) -> list[str]:
    memo = clean_name(transfer.memo)
    return [name for name in _names(order) if name not in memo]


def bank_candidates(transfer: BankTransfer) -> list[tuple[Order, list[str]]]:
    """Unpaid orders of the transfer's organiser with its amount, those whose trainees the memo names first;
    each with the names the memo lacks."""
    orders = Order.objects.filter(
        state=OrderState.UNPAID, amount=transfer.amount, application__call__organiser=transfer.organiser
    ).select_related("application")
    ranked = [
        (order, memo_names_missing(transfer, order))
        for order in orders.prefetch_related("application__trainees")
    ]
    return sorted(ranked, key=lambda pair: (len(pair[1]), pair[0].created_at))


def bank_transfer_match(
    *, transfer: BankTransfer, order: Order, actor: Any, without_names: bool = False
) -> Order:
    """Book a transfer to an order of the same organiser: the same amount, and a memo naming every trainee
    (staff may confirm a memo without the names after checking with the payer)."""
    _check_staff(actor, order.application.call)
    if order.application.call.organiser_id != transfer.organiser_id:
        raise PermissionDenied("forbidden", _("This transfer went to another organiser's account."))
    with transaction.atomic():
        transfer = BankTransfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.order_id is not None:
            raise DomainError(
                "already_matched",
                _("This transfer is already booked to order %(n)s.") % {"n": transfer.order.number},
            )
        missing = memo_names_missing(transfer, order)
        if missing and not without_names:
            raise DomainError(
                "memo_without_names",
                _(
                    "The memo does not name %(names)s. Check with the payer; if the transfer is theirs, confirm "
                    "the booking without the names."
                )
                % {"names": "、".join(missing)},
            )
        order = payment_received(
            order=order,
            method=PaymentMethod.BANK_TRANSFER,
            amount=transfer.amount,
            reference=f"BANK-{transfer.organiser_id}-{transfer.reference}",
            payer=transfer.payer,
            memo=transfer.memo,
            actor=actor,
            detail={"day": transfer.day.isoformat(), "names_missing": missing},
        )
        transfer.order = order
        transfer.save(update_fields=["order"])
    return order


# Refunds ------------------------------------------------------------------------------------------------------


def order_refund(*, order: Order, note: str, actor: Any) -> Order:
    """Record a refund (the money goes back through the bank or the gateway): only while the study window is
    open. The enrolments this application opened become void; one that was running already is left alone."""
    _check_staff(actor, order.application.call)
    note = (note or "").strip()
    if not note:
        raise DomainError("reason_required", _("Say why the fee is refunded."), field="note")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.state != OrderState.PAID:
            raise DomainError("not_paid", _("Only a paid order can be refunded."))
        today = timezone.localdate()
        trainees = list(order.application.trainees.select_related("enrolment"))
        if any(t.enrolment and t.enrolment.deadline and t.enrolment.deadline < today for t in trainees):
            raise DomainError(
                "window_lapsed",
                _("The study window has lapsed: the account is void and the fee is not refunded."),
            )
        for trainee in trainees:
            if trainee.enrolment is not None and trainee.opened_enrolment:
                Enrolment.objects.filter(pk=trainee.enrolment_id).update(
                    status=EnrolmentStatus.VOID, updated_at=timezone.now()
                )
                statistics_touch(trainee.enrolment)  # an update() sends no signal: the count drops by hand
        order.state, order.refunded_at, order.refund_note = OrderState.REFUNDED, timezone.now(), note
        order.save(update_fields=["state", "refunded_at", "refund_note"])
        audit_log(
            action="enrolment.refund",
            actor=actor,
            obj=order,
            organisation_id=order.application.call.organiser_id,
            detail={"amount": str(order.amount), "note": note},
        )
    return order


# Invoices (ENR-03) --------------------------------------------------------------------------------------------


def add_working_days(day: dt.date, days: int) -> dt.date:
    """`days` working days after `day`, on the State Council's calendar (holidays and the weekends worked in
    exchange, `chinesecalendar`); Monday to Friday for years that calendar does not know yet."""
    import chinese_calendar

    while days > 0:
        day += dt.timedelta(days=1)
        try:
            working = chinese_calendar.is_workday(day)
        except NotImplementedError:
            working = day.weekday() < 5
        days -= working
    return day


def _invoice_fields(buyer_name: str, taxpayer_id: str, email: str, *, unit: bool) -> dict[str, str]:
    """The buyer's full name, the taxpayer ID (统一社会信用代码, its check character verified; a unit must give it)
    and the e-mail the e-invoice goes to."""
    buyer_name = " ".join((buyer_name or "").split())
    if not buyer_name:
        raise DomainError(
            "field_required",
            _("Enter the buyer's full name, as it is to appear on the invoice."),
            field="buyer_name",
        )
    taxpayer_id = (taxpayer_id or "").strip().upper()
    if taxpayer_id:
        try:
            taxpayer_id = normalise_uscc(taxpayer_id)
        except DomainError as error:
            raise DomainError(error.code, error.message, field="taxpayer_id") from error
    elif unit:
        raise DomainError(
            "taxpayer_id_required",
            _("A unit's invoice needs its taxpayer ID (the 18-character unified social credit code)."),
            field="taxpayer_id",
        )
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise DomainError(
            "invalid_email", _("Enter a valid e-mail address: the e-invoice is sent there."), field="email"
        ) from error
    return {"buyer_name": buyer_name[:120], "taxpayer_id": taxpayer_id, "email": email}


def invoice_request(
    *, order: Order, buyer_name: str, taxpayer_id: str, email: str, actor: Any = None
) -> InvoiceRequest:
    order = Order.objects.select_related("application__call").get(pk=order.pk)
    if order.state != OrderState.PAID:
        raise DomainError("not_paid", _("An invoice can be requested once the order is paid."))
    fields = _invoice_fields(
        buyer_name, taxpayer_id, email, unit=order.application.kind == ApplicantKind.UNIT
    )
    buyer_name, taxpayer_id, email = fields["buyer_name"], fields["taxpayer_id"], fields["email"]
    today = timezone.localdate()
    try:
        with transaction.atomic():
            request = InvoiceRequest.objects.create(
                order=order,
                buyer_name=buyer_name[:120],
                taxpayer_id=taxpayer_id,
                email=email,
                requested_at=timezone.now(),
                due_on=add_working_days(today, INVOICE_WORKING_DAYS),
            )
    except IntegrityError as error:
        raise DomainError(
            "invoice_requested", _("An invoice has been requested for this order already.")
        ) from error
    audit_log(
        action="enrolment.invoice_request",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        obj=request,
        organisation_id=order.application.call.organiser_id,
        detail={"buyer": buyer_name, "due_on": request.due_on.isoformat()},
    )
    return request


def invoice_handle(
    *, request: InvoiceRequest, actor: Any, invoice_number: str = "", reason: str = ""
) -> InvoiceRequest:
    """Staff: issued (with the e-invoice's number) or rejected (with the reason; the applicant may ask again)."""
    _check_staff(actor, request.order.application.call)
    if request.state != InvoiceState.REQUESTED:
        raise DomainError("invoice_handled", _("This invoice request has been handled already."))
    invoice_number, reason = (invoice_number or "").strip(), (reason or "").strip()
    if not invoice_number and not reason:
        raise DomainError(
            "field_required",
            _("Enter the invoice number, or the reason for rejecting the request."),
            field="invoice_number",
        )
    request.state = InvoiceState.ISSUED if invoice_number else InvoiceState.REJECTED
    request.invoice_number, request.note = invoice_number[:40], reason
    request.handled_by, request.handled_at = actor, timezone.now()
    request.save(update_fields=["state", "invoice_number", "note", "handled_by", "handled_at"])
    audit_log(
        action="enrolment.invoice_" + request.state,
        actor=actor,
        obj=request,
        organisation_id=request.order.application.call.organiser_id,
        detail={"invoice_number": invoice_number, "reason": reason},
    )
    return request
