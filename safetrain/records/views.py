from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from safetrain.records.models import AuditResult
from safetrain.records.selectors import audit_search, can_search_audit


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=80)
    result = forms.ChoiceField(label=_("Result"), required=False, choices=[("", "—"), *AuditResult.choices])
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


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
