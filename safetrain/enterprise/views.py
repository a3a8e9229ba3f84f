"""People of an enterprise or project (ENT-01) and the roster import (ENT-02) for their admins."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from safetrain.accounts.models import UNIT_ADMIN_ROLES, Role
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.http import xlsx_response
from safetrain.enterprise import realname_sync, reports, roster
from safetrain.enterprise.models import Personnel
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log

MAX_UPLOAD = 5 * 1024 * 1024


def _units(user) -> object:
    return Organisation.objects.administered_by(user).filter(
        kind__in=[OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION]
    )


class ImportForm(forms.Form):
    unit = forms.ModelChoiceField(label=_lazy("Unit"), queryset=Organisation.objects.none())
    file = forms.FileField(label=_lazy("Roster (.xlsx)"))
    valid_rows_only = forms.BooleanField(
        label=_lazy("Import the valid rows and leave out the faulty ones"), required=False
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = _units(viewer)


@staff_required(*UNIT_ADMIN_ROLES)
def people_view(request: HttpRequest) -> HttpResponse:
    units = _units(request.user)
    wanted = request.GET.get("unit", "")
    unit = (
        units.filter(pk=int(wanted)).first() if wanted.isdecimal() and len(wanted) < 12 else None
    ) or units.first()
    people = (
        Personnel.objects.filter(organisation=unit)
        .select_related("user", "job_type")
        .order_by("-on_site", "pk")
        if unit
        else Personnel.objects.none()
    )
    form = ImportForm(viewer=request.user, initial={"unit": unit})
    return render(
        request, "enterprise/people.html", {"units": units, "unit": unit, "people": people, "form": form}
    )


@staff_required(*UNIT_ADMIN_ROLES)
def import_view(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None, viewer=request.user)
    result = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD:
                form.add_error("file", _("The file is larger than 5 MB: split the roster."))
                status = 400
            else:
                try:
                    result = roster.roster_import(
                        unit=form.cleaned_data["unit"],
                        data=upload.read(),
                        filename=upload.name,
                        actor=request.user,
                        valid_rows_only=form.cleaned_data["valid_rows_only"],
                    )
                except DomainError as exc:
                    form.add_error("file" if exc.field == "file" else None, exc.message)
                    status = 400
                else:
                    status = 200 if result.imported else 400
        else:
            status = 400
    return render(request, "enterprise/import.html", {"form": form, "result": result}, status=status)


@staff_required(*UNIT_ADMIN_ROLES)
def template_view(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ("guangzhou", "plain"):
        raise Http404
    name = "线上培训报名表（广州模板）.xlsx" if kind == "guangzhou" else "人员名单模板.xlsx"
    return xlsx_response(roster.template_workbook(kind), name)


@staff_required(*UNIT_ADMIN_ROLES)
def accounts_view(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = get_object_or_404(_units(request.user), pk=unit_id)
    return xlsx_response(roster.account_list(unit=unit, actor=request.user), f"账号清单-{unit.name}.xlsx")


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def leave_view(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Personnel.objects.filter(organisation__in=_units(request.user)), pk=person_id)
    roster.person_leave(person=person, actor=request.user)
    messages.success(
        request,
        _("%(name)s is marked as left; the account and all records stay.") % {"name": person.user.name},
    )
    return redirect(f"/enterprise/people/?unit={person.organisation_id}")


# Real-name system sync (实名制同步, ENT-03) -----------------------------------------------------------------------


def _linked_projects(user):
    return (
        Organisation.objects.administered_by(user)
        .filter(kind=OrganisationKind.PROJECT, realname__isnull=False)
        .select_related("realname")
    )


@staff_required(*UNIT_ADMIN_ROLES)
def realname_view(request: HttpRequest) -> HttpResponse:
    projects = _linked_projects(request.user)
    wanted = request.GET.get("project", "")
    project = (
        projects.filter(pk=int(wanted)).first() if wanted.isdecimal() and len(wanted) < 12 else None
    ) or projects.first()
    if project is not None and realname_sync.first_sync_due(project):
        # The project's first visit pulls every on-duty person from the real-name system.
        realname_sync.realname_sync(project=project, actor=request.user)
    syncs = list(project.realname_syncs.all()[:10]) if project else []
    people = (
        Personnel.objects.filter(organisation=project, on_site=True).select_related("user", "job_type")
        if project
        else Personnel.objects.none()
    )
    return render(
        request,
        "enterprise/realname.html",
        {
            "projects": projects,
            "project": project,
            "last": syncs[0] if syncs else None,
            "syncs": syncs,
            "people": people,
        },
    )


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def realname_sync_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(_linked_projects(request.user), pk=project_id)
    try:
        sync = realname_sync.realname_sync(project=project, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if sync.ok:
            messages.success(
                request,
                _("Synced: %(joined)d joined, %(left)d left, %(changed)d changed.")
                % {"joined": sync.joined, "left": sync.left, "changed": sync.changed},
            )
        else:
            messages.error(request, sync.error)
    return redirect(f"{reverse('enterprise:realname')}?project={project.pk}")


# Project training report (培训通报表, ENT-05) -----------------------------------------------------------------------

REPORT_VIEWERS = (*UNIT_ADMIN_ROLES, Role.REGULATOR)


@staff_required(*REPORT_VIEWERS)
def report_view(request: HttpRequest) -> HttpResponse:
    projects = reports.visible_projects(request.user)
    page = Paginator(projects, 50).get_page(request.GET.get("page"))
    rows = [reports.project_report(project) for project in page.object_list]
    return render(request, "enterprise/report.html", {"page": page, "reports": rows})


@staff_required(*REPORT_VIEWERS)
def report_export_view(request: HttpRequest) -> HttpResponse:
    rows = [reports.project_report(project) for project in reports.visible_projects(request.user)]
    audit_log(action="enterprise.report_export", actor=request.user, detail={"projects": len(rows)})
    return xlsx_response(reports.reports_workbook(rows), f"培训通报表-{timezone.localdate():%Y%m%d}.xlsx")


@staff_required(*REPORT_VIEWERS)
def report_people_view(request: HttpRequest, project_id: int, column: str) -> HttpResponse:
    project = get_object_or_404(reports.visible_projects(request.user), pk=project_id)
    if column not in reports.COLUMNS:
        raise Http404
    report = reports.project_report(project)
    label = reports.column_label(column)
    if request.GET.get("format") == "xlsx":
        audit_log(
            action="enterprise.report_people_export",
            actor=request.user,
            obj=project,
            detail={"column": column},
        )
        return xlsx_response(reports.people_workbook(report, column), f"{project.name}-{label}.xlsx")
    return render(
        request,
        "enterprise/report_people.html",
        {
            "project": project,
            "report": report,
            "column": column,
            "label": label,
            "people": report.people(column),
            "columns": [(c, reports.column_label(c), report.count(c)) for c in reports.COLUMNS],
        },
    )
