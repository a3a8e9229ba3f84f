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
from safetrain.core.excel import table_xlsx
from safetrain.core.forms import DateInput
from safetrain.core.http import pdf_response, xlsx_response
from safetrain.records.archive import archive_pdf, archive_xlsx, learner_archive
from safetrain.records.models import AuditResult
from safetrain.records.selectors import audit_search, can_search_audit
from safetrain.records.services import audit_log


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. sign-in, certificate")}),
    )
    who = forms.CharField(label=_("User's name"), required=False, max_length=60)
    result = forms.ChoiceField(label=_("Result"), required=False, choices=[("", "—"), *AuditResult.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())


@login_required
def audit_view(request: HttpRequest) -> HttpResponse:
    """The operation log (REC-03), scoped to the viewer's organisations or region."""
    if not can_search_audit(request.user):
        return render(request, "core/forbidden.html", status=403)
    # The filter form posts (its pages and export too): a user's name is personal data and never goes into the
    # address. A link may still narrow the log by the other filters in the query string.
    if request.method == "POST":
        data = request.POST
    else:
        data = request.GET.copy()
        data.pop("who", None)
    form = AuditFilterForm(data or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = audit_search(viewer=request.user, **{k: v for k, v in filters.items() if v})
    if data.get("format") == "xlsx":
        return _audit_xlsx(entries, filters)
    page = Paginator(entries, 50).get_page(data.get("page"))
    return render(request, "records/audit.html", {"form": form, "page": page})


AUDIT_EXPORT_LIMIT = 20000


def _audit_xlsx(entries: Any, filters: dict[str, Any]) -> HttpResponse:
    """The current filter's entries within the viewer's scope, newest first (REC-03)."""
    columns = [_("No."), _("Time"), _("User"), _("IP address"), _("Action"), _("Object"), _("Result")]
    rows = (
        [
            e.seq,
            timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_label,
            e.ip,
            e.action_label,
            f"{e.object_label} {e.object_id}".strip(),
            e.get_result_display(),
        ]
        for e in entries[:AUDIT_EXPORT_LIMIT]
    )
    data = table_xlsx(str(_("Operation log")), [str(c) for c in columns], rows)
    # Which filters were used, never their values (a name is personal data).
    audit_log(action="records.audit_export", detail={"filters": sorted(k for k, v in filters.items() if v)})
    return xlsx_response(data, f"操作日志-{timezone.localdate():%Y%m%d}.xlsx")


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
