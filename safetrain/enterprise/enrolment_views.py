"""Pages of enrolment applications, fees and invoices (ENR-01..03): the open calls, the unit's form upload and the
individual's form, the applicant's page (order, scan-to-pay, bank transfer, invoice), the gateway's notification,
and the organiser's staff pages (review, refunds, bank reconciliation, invoices)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from safetrain.accounts.models import UNIT_ADMIN_ROLES
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.forms import DateInput
from safetrain.core.qr import qr_svg
from safetrain.enterprise import applications
from safetrain.enterprise.models import (
    ApplicationStatus,
    BankTransfer,
    EnrolmentApplication,
    InvoiceRequest,
    InvoiceState,
    OrderState,
)
from safetrain.integrations.payments import gateway_configured
from safetrain.orgs.models import Organisation, OrganisationKind

MAX_UPLOAD = 5 * 1024 * 1024
FIELD_OF_COLUMN = {
    "姓名": "name",
    "身份证号码": "id_number",
    "手机号码": "phone",
    "证书类型": "certificate_type",
    "培训类别": "training_kind",
    "联系人": "name",
    "联系电话": "phone",
    "收件人": "recipient",
    "收件人电话": "recipient_phone",
    "地址": "address",
}


def calls_view(request: HttpRequest) -> HttpResponse:
    return render(request, "enrolment/calls.html", {"calls": applications.open_calls()})


class UnitApplicationForm(forms.Form):
    unit = forms.ModelChoiceField(label=_lazy("Unit"), queryset=Organisation.objects.none())
    file = forms.FileField(label=_lazy("Enrolment form (.xlsx or .xls)"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Organisation.objects.administered_by(viewer).filter(
            kind__in=[OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT]
        )


@staff_required(*UNIT_ADMIN_ROLES)
def unit_apply_view(request: HttpRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(applications.open_calls(), pk=call_id)
    form = UnitApplicationForm(request.POST or None, request.FILES or None, viewer=request.user)
    errors, status = [], 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD:
                form.add_error("file", _("The file is larger than 5 MB: split the roster."))
            else:
                try:
                    result = applications.application_from_file(
                        call=call, data=upload.read(), unit=form.cleaned_data["unit"], actor=request.user
                    )
                except DomainError as error:
                    form.add_error("file" if error.field == "file" else None, error.message)
                else:
                    if result.application is not None:
                        if result.again:
                            messages.info(request, _("This form was sent before: here is that application."))
                        else:
                            messages.success(request, _("The application was sent. Pay the fees below."))
                        if result.phones_ignored:
                            messages.info(request, _phones_ignored_message(result.phones_ignored))
                        return redirect("enrolment:application", token=result.application.token)
                    errors = result.errors
    return render(
        request, "enrolment/unit_apply.html", {"call": call, "form": form, "errors": errors}, status=status
    )


def _phones_ignored_message(count: int) -> str:
    return ngettext(
        "%(n)d trainee's phone number was not kept: the training's region does not keep learners' phones.",
        "%(n)d trainees' phone numbers were not kept: the training's region does not keep learners' phones.",
        count,
    ) % {"n": count}


class IndividualApplicationForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=60)
    id_number = forms.CharField(label=_lazy("ID number"), max_length=18)
    phone = forms.CharField(
        label=_lazy("Mobile phone (your own: the account is opened with it)"), max_length=20
    )
    certificate_type = forms.ChoiceField(
        label=_lazy("Certificate type"), choices=[(v, v) for v in ("主要负责人", "安全生产管理人员")]
    )
    training_kind = forms.ChoiceField(
        label=_lazy("Training kind"), choices=[(v, v) for v in ("初始培训", "再培训")]
    )
    unit_name = forms.CharField(label=_lazy("Employer (optional)"), max_length=120, required=False)
    recipient = forms.CharField(label=_lazy("Certificate recipient"), max_length=60)
    recipient_phone = forms.CharField(label=_lazy("Recipient's phone"), max_length=20)
    address = forms.CharField(label=_lazy("Mailing address"), max_length=200)

    def __init__(self, *args, ask_phone: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not ask_phone:  # POL-PHONE: the call's region keeps no learners' phones (GD#14): not asked
            del self.fields["phone"]


def individual_apply_view(request: HttpRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(applications.open_calls(), pk=call_id)
    form = IndividualApplicationForm(request.POST or None, ask_phone=applications.call_keeps_phones(call))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = applications.application_individual(
                    call=call, values=form.cleaned_data, actor=request.user
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                if result.application is not None:
                    messages.success(
                        request,
                        _("The application was sent. Keep the address of this page to pay and to follow it."),
                    )
                    return redirect("enrolment:application", token=result.application.token)
                for error in result.errors:
                    field = FIELD_OF_COLUMN.get(error.column)
                    form.add_error(field if field in form.fields else None, error.message)
    return render(request, "enrolment/individual_apply.html", {"call": call, "form": form}, status=status)


class InvoiceForm(forms.Form):
    buyer_name = forms.CharField(label=_lazy("Buyer's full name (开票单位全称 or your name)"), max_length=120)
    taxpayer_id = forms.CharField(
        label=_lazy("Taxpayer ID (统一社会信用代码)"), max_length=18, required=False
    )
    email = forms.CharField(label=_lazy("E-mail for the e-invoice"), max_length=254)


def _application(token: str) -> EnrolmentApplication:
    if len(token) != 43:
        raise Http404
    return get_object_or_404(
        EnrolmentApplication.objects.select_related("call", "order", "call__organiser"), token=token
    )


def application_view(request: HttpRequest, token: str) -> HttpResponse:
    """The applicant's page: open to whoever holds its unguessable address (an individual may have no account)."""
    application = _application(token)
    order = application.order
    invoice_form = InvoiceForm(request.POST or None, initial={"buyer_name": application.unit_name})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "pay":
                applications.pay_start(order)
                return redirect("enrolment:application", token=token)
            if action == "check":
                order = applications.pay_check(order)
                if order.state == OrderState.PAID:
                    messages.success(request, _("The payment has arrived."))
                else:
                    messages.info(
                        request, _("No payment yet. If you have paid, wait a minute and check again.")
                    )
                return redirect("enrolment:application", token=token)
            if action == "invoice":
                if invoice_form.is_valid():
                    applications.invoice_request(order=order, actor=request.user, **invoice_form.cleaned_data)
                    messages.success(
                        request,
                        _("The invoice is requested; it is sent to your e-mail within five working days."),
                    )
                    return redirect("enrolment:application", token=token)
                status = 400
        except DomainError as error:
            if action == "invoice":
                invoice_form.add_error(
                    error.field if error.field in invoice_form.fields else None, error.message
                )
            else:
                messages.error(request, error.message)
            status = 400
    trainees = list(application.trainees.select_related("programme", "enrolment"))
    names = "、".join(t.name for t in trainees)
    return render(
        request,
        "enrolment/application.html",
        {
            "application": application,
            "order": order,
            "trainees": trainees,
            "memo": _("%(names)s %(order)s") % {"names": names, "order": order.number},
            "gateway": gateway_configured(),
            "qr": qr_svg(order.pay_url) if order.pay_url and order.state == OrderState.UNPAID else "",
            "invoice_form": invoice_form,
            "invoices": order.invoice_requests.all(),
            "can_invoice": order.state == OrderState.PAID
            and not order.invoice_requests.exclude(state=InvoiceState.REJECTED).exists(),
        },
        status=status,
    )


@csrf_exempt
@require_POST
def payment_notify_view(request: HttpRequest) -> HttpResponse:
    """The gateway's notification: signed, idempotent. It answers "success" once booked (or already booked)."""
    try:
        applications.gateway_notification(request.body, request.headers.get("X-Signature", ""))
    except DomainError as error:
        return HttpResponse(error.code, status=400, content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")


# Staff --------------------------------------------------------------------------------------------------------


def _managed_applications(user):
    return EnrolmentApplication.objects.filter(call__in=applications.managed_calls(user)).select_related(
        "call", "order"
    )


@staff_required(*UNIT_ADMIN_ROLES)
def manage_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = _managed_applications(request.user)
    if status in ApplicationStatus.values:
        rows = rows.filter(status=status)
    query = request.GET.get("q", "")[:60].strip()
    if query:
        # The applicant's unit name (part of it) or the order number; trainees' names are encrypted.
        rows = rows.filter(Q(unit_name__icontains=query) | Q(order__number=query))
    page = Paginator(rows.prefetch_related("trainees"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "enrolment/manage.html",
        {
            "applications": page,
            "page": page,
            "q": query,
            "status": status,
            "statuses": ApplicationStatus.choices,
            "invoices_due": InvoiceRequest.objects.filter(
                order__application__call__in=applications.managed_calls(request.user),
                state=InvoiceState.REQUESTED,
            ).count(),
        },
    )


@staff_required(*UNIT_ADMIN_ROLES)
def manage_application_view(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(_managed_applications(request.user), pk=application_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        note = request.POST.get("note", "")
        try:
            if action in ("approve", "reject"):
                applications.application_review(
                    application=application, approve=action == "approve", note=note, actor=request.user
                )
                messages.success(request, _("The application is reviewed."))
            elif action == "refund":
                applications.order_refund(order=application.order, note=note, actor=request.user)
                messages.success(request, _("The refund is recorded; the accounts' enrolments are void."))
            elif action == "open":
                applications.after_payment_or_review(application)
                messages.success(request, _("The accounts were opened again where they were not open yet."))
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("enrolment:manage_application", application_id=application.pk)
    return render(
        request,
        "enrolment/manage_application.html",
        {
            "application": application,
            "order": application.order,
            "trainees": application.trainees.select_related("programme", "enrolment"),
            "payments": application.order.payments.all(),
            "unopened": application.status == ApplicationStatus.APPROVED
            and application.order.state == OrderState.PAID
            and application.trainees.filter(opened_at__isnull=True).exists(),
        },
    )


class TransferForm(forms.Form):
    organiser = forms.ModelChoiceField(label=_lazy("Payee (organiser)"), queryset=Organisation.objects.none())
    reference = forms.CharField(label=_lazy("Bank serial number"), max_length=64)
    day = forms.DateField(label=_lazy("Date"), widget=DateInput())
    amount = forms.DecimalField(
        label=_lazy("Amount (yuan)"), max_digits=10, decimal_places=2, min_value=Decimal("0.01")
    )
    payer = forms.CharField(label=_lazy("Payer"), max_length=120)
    memo = forms.CharField(label=_lazy("Memo (附言)"), max_length=200, required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        organisers = applications.managed_organisers(viewer)
        self.fields["organiser"].queryset = organisers
        self.only = organisers.first() if organisers.count() == 1 else None
        if self.only is not None:  # staff of one organiser: its account, nothing to choose
            self.fields["organiser"].required = False
            self.fields["organiser"].widget = forms.HiddenInput()

    def clean_organiser(self):
        return self.cleaned_data.get("organiser") or self.only


def _transfers(user):
    return BankTransfer.objects.filter(organiser__in=applications.managed_organisers(user))


@staff_required(*UNIT_ADMIN_ROLES)
def transfers_view(request: HttpRequest) -> HttpResponse:
    if not applications.managed_organisers(request.user).exists():
        return render(request, "core/forbidden.html", status=403)
    form = TransferForm(request.POST or None, viewer=request.user, initial={"day": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                applications.bank_transfer_record(actor=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                status = 400
            else:
                messages.success(request, _("The transfer is entered: book it to its order below."))
                return redirect("enrolment:transfers")
        else:
            status = 400
    open_transfers = [
        (transfer, applications.bank_candidates(transfer))
        for transfer in _transfers(request.user).filter(order__isnull=True)[:50]
    ]
    booked = _transfers(request.user).filter(order__isnull=False).select_related("order")[:50]
    return render(
        request,
        "enrolment/transfers.html",
        {"form": form, "open_transfers": open_transfers, "booked": booked},
        status=status,
    )


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def transfer_match_view(request: HttpRequest, transfer_id: int) -> HttpResponse:
    transfer = get_object_or_404(_transfers(request.user), pk=transfer_id)
    order_id = request.POST.get("order", "")
    application = get_object_or_404(
        _managed_applications(request.user),
        order__pk=int(order_id) if order_id.isdecimal() and len(order_id) < 12 else 0,
    )
    try:
        applications.bank_transfer_match(
            transfer=transfer,
            order=application.order,
            actor=request.user,
            without_names=request.POST.get("without_names") == "1",
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Booked to order %(n)s.") % {"n": application.order.number})
    return redirect("enrolment:transfers")


@staff_required(*UNIT_ADMIN_ROLES)
def invoices_view(request: HttpRequest) -> HttpResponse:
    requests = InvoiceRequest.objects.filter(
        order__application__call__in=applications.managed_calls(request.user)
    ).select_related("order", "order__application")
    if request.method == "POST":
        item = get_object_or_404(
            requests, pk=request.POST.get("request") if (request.POST.get("request") or "").isdecimal() else 0
        )
        try:
            applications.invoice_handle(
                request=item,
                actor=request.user,
                invoice_number=request.POST.get("invoice_number", ""),
                reason=request.POST.get("reason", ""),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The invoice request is handled."))
        return redirect("enrolment:invoices")
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    return render(
        request, "enrolment/invoices.html", {"requests": page, "page": page, "today": timezone.localdate()}
    )


@staff_required(*UNIT_ADMIN_ROLES)
def mine_view(request: HttpRequest) -> HttpResponse:
    """The applications a unit admin sent, or that were sent for their units."""
    rows = EnrolmentApplication.objects.filter(
        Q(submitted_by=request.user) | Q(unit__in=Organisation.objects.administered_by(request.user))
    ).select_related("call", "order")
    return render(request, "enrolment/mine.html", {"applications": rows[:200]})
