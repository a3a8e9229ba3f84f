from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.models import User
from safetrain.core.decorators import staff_required
from safetrain.core.forms import DateInput
from safetrain.core.http import pdf_response, xlsx_response
from safetrain.records.archive import archive_pdf, archive_xlsx, learner_archive
from safetrain.records.models import AuditResult
from safetrain.records.selectors import audit_search, can_search_audit
from safetrain.records.services import audit_log


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=80)
    result = forms.ChoiceField(label=_("Result"), required=False, choices=[("", "—"), *AuditResult.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())


@login_required
def audit_view(request: HttpRequest) -> HttpResponse:
    """The operation log (REC-03), scoped to the viewer's organisations or region."""
    if not can_search_audit(request.user):
        return render(request, "core/forbidden.html", status=403)
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = audit_search(viewer=request.user, **{k: v for k, v in filters.items() if v})
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "records/audit.html", {"form": form, "page": page})


def _archive_response(request: HttpRequest, learner: Any) -> HttpResponse:
    archive = learner_archive(learner)
    fmt = request.GET.get("format", "")
    stem = f"学员电子档案-{learner.name}-{timezone.localdate():%Y%m%d}"
    if fmt in ("xlsx", "pdf"):
        audit_log(action=f"records.archive_export.{fmt}", obj=learner, detail={"learner": learner.pk})
    if fmt == "xlsx":
        return xlsx_response(archive_xlsx(archive), f"{stem}.xlsx")
    if fmt == "pdf":
        return pdf_response(archive_pdf(archive), f"{stem}.pdf")
    return render(request, "records/archive.html", {"archive": archive, "subject": learner})


@login_required
def my_archive_view(request: HttpRequest) -> HttpResponse:
    """The learner's own archive (REC-01)."""
    return _archive_response(request, request.user)


@staff_required("regulator", "enterprise_admin", "institution_admin")
def archive_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """A learner's archive for the admins and regulators whose scope holds them."""
    learner = get_object_or_404(User.objects.visible_to(request.user), pk=user_id)
    return _archive_response(request, learner)
