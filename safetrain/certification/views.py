"""Public verification (CERT-04) and the holders' documents (CERT-01, CERT-06)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET

from safetrain.accounts.models import User, name_index_of
from safetrain.certification import services, signing
from safetrain.certification.documents import certificate_pdf
from safetrain.certification.models import Certificate
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError, NotFound
from safetrain.core.excel import table_xlsx
from safetrain.core.forms import DateInput
from safetrain.core.http import pdf_response, xlsx_response
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "certification/too_many.html", status=429)


@require_GET
def verify_index_view(request: HttpRequest) -> HttpResponse:
    # A name is personal data: it comes in the form body only, never in the address (no logs, no history).
    number = services.normalise_number(request.POST.get("number") or request.GET.get("number", ""))
    if number:
        return redirect("certification:verify", number=number)
    return render(request, "certification/verify.html", {"result": None})


@require_GET
def verify_view(request: HttpRequest, number: str) -> HttpResponse:
    if services.rate_limited(request):
        return _too_many(request)
    context: dict = {"number": number}
    status = 200
    try:
        context["result"] = services.verification(number)
    except NotFound as exc:
        context["error"] = exc.message
        status = 404
    token = request.GET.get("s", "")
    if token and "result" in context:
        signed = services.check_signed(number, token)
        context["signed"] = signed
        # A QR whose signature fails, or that does not match the register, must not look valid (CERT-04).
        context["altered"] = not (signed["signature_valid"] and signed["matches_record"])
    return render(request, "certification/verify.html", context, status=status)


@require_GET
def public_key_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(signing.public_key_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = content_disposition_header(True, "safetrain-certificate-key.pem")
    return response


@login_required
def my_certificates_view(request: HttpRequest) -> HttpResponse:
    return render(
        request, "certification/mine.html", {"certificates": services.my_certificates(request.user)}
    )


@login_required
def certificate_pdf_view(request: HttpRequest, number: str) -> HttpResponse:
    try:
        certificate = services.certificate_for(request.user, number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return pdf_response(certificate_pdf(certificate), f"{certificate.number}.pdf")


class MailingForm(forms.Form):
    recipient = forms.CharField(label=_lazy("Recipient"), max_length=60)
    phone = forms.CharField(label=_lazy("Phone"), max_length=20)
    address = forms.CharField(label=_lazy("Address"), max_length=300)
    courier = forms.CharField(label=_lazy("Courier"), max_length=40)
    tracking_number = forms.CharField(label=_lazy("Tracking number"), max_length=40)
    sent_on = forms.DateField(label=_lazy("Sent on"), widget=DateInput())


@staff_required("institution_admin", "enterprise_admin", "regulator")
def issued_view(request: HttpRequest) -> HttpResponse:
    """Certificates of the people in the viewer's scope, newest first, searchable by number."""
    query = Certificate.objects.select_related("programme").prefetch_related("mailings")
    if not request.user.sees_everything():
        query = query.filter(
            Q(learner__in=User.objects.visible_to(request.user))
            | Q(enrolment__organisation__in=Organisation.objects.supervised_by(request.user))
        ).distinct()
    number = services.normalise_number(request.GET.get("number", ""))
    if number:
        query = query.filter(number__startswith=number)
    name = " ".join(request.POST.get("name", "").split())[:60]
    if name:
        # Names are encrypted: an exact name (spaces ignored) is found by its blind index.
        query = query.filter(learner__name_index=name_index_of(name))
    query = query.order_by("-issued_on", "-pk")
    if request.POST.get("format") == "xlsx":
        return _issued_xlsx(query, number=number, name=name)
    page = Paginator(query, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "certification/issued.html",
        {"page": page, "number": number, "name": name},
    )


ISSUED_EXPORT_LIMIT = 20000


def _issued_xlsx(query, *, number: str, name: str) -> HttpResponse:
    """The current search's certificates within the viewer's scope, as one sheet (UX: Excel on every list)."""
    columns = [
        _("Number"),
        _("Document"),
        _("Holder"),
        _("ID number"),
        _("Programme"),
        _("Class hours"),
        _("Issued on"),
        _("Valid until"),
        _("State"),
        _("Mailing"),
    ]
    rows = (
        [
            c.number,
            c.get_kind_display(),
            c.holder_name,
            c.holder_id_masked,
            c.programme_name,
            c.hours_text,
            c.issued_on.isoformat(),
            c.valid_until.isoformat() if c.valid_until else "",
            c.get_state_display(),
            "；".join(f"{m.sent_on} {m.courier} {m.tracking_number}" for m in c.mailings.all()),
        ]
        for c in query[:ISSUED_EXPORT_LIMIT]
    )
    data = table_xlsx(str(_("Issued certificates")), [str(c) for c in columns], rows)
    # Which filters were used, never their values (a name is personal data).
    audit_log(action="certification.issued_export", detail={"number": bool(number), "name": bool(name)})
    return xlsx_response(data, f"证书清单-{timezone.localdate():%Y%m%d}.xlsx")


@staff_required("institution_admin")
def mailing_view(request: HttpRequest, number: str) -> HttpResponse:
    try:
        certificate = services.certificate_for(request.user, number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = MailingForm(request.POST or None, initial={"sent_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.mailing_record(certificate=certificate, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                messages.success(request, _("The mailing is recorded."))
                return redirect("certification:mailing", number=certificate.number)
        else:
            status = 400
    return render(
        request,
        "certification/mailing.html",
        {"certificate": certificate, "form": form, "mailings": certificate.mailings.all()},
        status=status,
    )
