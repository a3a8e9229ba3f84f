"""People of an enterprise or project (ENT-01) and the roster import (ENT-02) for their admins."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from safetrain.accounts.models import UNIT_ADMIN_ROLES, Role
from safetrain.catalog.models import JobType, Programme
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.forms import DateInput, MultipleImageField
from safetrain.core.http import xlsx_response
from safetrain.enterprise import classes, realname_sync, reports, roster
from safetrain.enterprise.models import Personnel, RosterJob, TrainingClass
from safetrain.enterprise.selectors import unit_people
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log

MAX_UPLOAD = 5 * 1024 * 1024
PAGE_SIZE = 50


def _units(user) -> object:
    return Organisation.objects.administered_by(user).filter(
        kind__in=[OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION]
    )


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdecimal() and len(value) < 12 else None


class ImportForm(forms.Form):
    unit = forms.ModelChoiceField(label=_lazy("Unit"), queryset=Organisation.objects.none())
    file = forms.FileField(label=_lazy("Roster (.xlsx or .xls)"))
    valid_rows_only = forms.BooleanField(
        label=_lazy("Import the valid rows and leave out the faulty ones"), required=False
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = _units(viewer)


@staff_required(*UNIT_ADMIN_ROLES)
def people_view(request: HttpRequest) -> HttpResponse:
    units = _units(request.user)
    wanted = _int_param(request, "unit")
    unit = (units.filter(pk=wanted).first() if wanted else None) or units.first()
    name = request.POST.get("name", "")[:60].strip()  # personal data: POST only, never in the address
    people = unit_people(viewer=request.user, unit=unit, name=name) if unit else []
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    form = ImportForm(viewer=request.user, initial={"unit": unit})
    return render(
        request,
        "enterprise/people.html",
        {"units": units, "unit": unit, "people": page, "page": page, "name": name, "form": form},
    )


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def leave_many_view(request: HttpRequest) -> HttpResponse:
    """批量离场: mark the ticked people as left the site, each as the single action does."""
    ids = [int(v) for v in request.POST.getlist("person") if v.isdecimal() and len(v) < 12]
    back = f"{reverse('enterprise:people')}?{QueryDict(request.POST.get('back', '')[:300]).urlencode()}"
    if not ids:
        messages.error(request, _("Tick the people who left the site first."))
        return redirect(back)
    people = list(
        Personnel.objects.filter(
            organisation__in=_units(request.user), pk__in=ids, on_site=True
        ).select_related("user", "organisation")
    )
    for person in people:
        roster.person_leave(person=person, actor=request.user)

    # The count, never the names: a flash message may travel in a cookie (personal data stays on the server).
    messages.success(
        request,
        ngettext(
            "Marked %(count)d person as left the site; the account and all records stay.",
            "Marked %(count)d people as left the site; their accounts and all records stay.",
            len(people),
        )
        % {"count": len(people)},
    )
    return redirect(back)


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
                    result = roster.roster_import_start(
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
                    if isinstance(result, RosterJob):
                        return redirect("enterprise:import_job", job_id=result.pk)
                    status = 200 if result.imported else 400
        else:
            status = 400
    return render(request, "enterprise/import.html", {"form": form, "result": result}, status=status)


@staff_required(*UNIT_ADMIN_ROLES)
def import_job_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(RosterJob.objects.filter(organisation__in=_units(request.user)), pk=job_id)
    return render(request, "enterprise/import_job.html", {"job": job, "result": roster.result_from_job(job)})


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
    wanted = _int_param(request, "project")
    project = (projects.filter(pk=wanted).first() if wanted else None) or projects.first()
    if (
        project is not None
        and realname_sync.first_sync_due(project)
        and not realname_sync.sync_running(project)
    ):
        # The project's first visit pulls every on-duty person from the real-name system (in the background).
        realname_sync.realname_sync_start(project=project, actor=request.user)
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
            "running": project is not None and realname_sync.sync_running(project),
        },
    )


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def realname_sync_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(_linked_projects(request.user), pk=project_id)
    if realname_sync.realname_sync_start(project=project, actor=request.user):
        messages.info(request, _("The sync has started; this page shows its result when it is done."))
    else:
        messages.info(
            request,
            _("A sync of this project is running already; this page shows its result when it is done."),
        )
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
            "teams": report.team_figures(),
        },
    )


# Training classes (开班培训, ENT-04) and the training summary (人员培训汇总) ----------------------------------------


class ClassForm(forms.Form):
    unit = forms.ModelChoiceField(label=_lazy("Unit"), queryset=Organisation.objects.none())
    programme = forms.ModelChoiceField(label=_lazy("Programme"), queryset=Programme.objects.none())
    name = forms.CharField(label=_lazy("Class name"), max_length=120)
    starts_on = forms.DateField(label=_lazy("Starts on"), widget=DateInput())
    ends_on = forms.DateField(label=_lazy("Ends on"), required=False, widget=DateInput())

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = _units(viewer)
        self.fields["programme"].queryset = Programme.objects.filter(is_published=True)


class GroupSessionForm(forms.Form):
    date = forms.DateField(label=_lazy("Date"), widget=DateInput())
    place = forms.CharField(label=_lazy("Place"), max_length=200)
    teacher = forms.CharField(label=_lazy("Teacher"), max_length=60)
    content = forms.CharField(label=_lazy("Content"), widget=forms.Textarea(attrs={"rows": 2}))
    minutes = forms.IntegerField(label=_lazy("Minutes"), min_value=1, max_value=1440)
    present = forms.TypedMultipleChoiceField(
        label=_lazy("Present"),
        coerce=int,
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _lazy("Tick the people who were present.")},
    )
    sheet = forms.ImageField(
        label=_lazy("Signed attendance sheet (photo)"),
        error_messages={"required": _lazy("Choose the photo of the signed attendance sheet.")},
    )
    photos = MultipleImageField(
        label=_lazy("Front-face photos of the attendees (one or per group)"),
        error_messages={"required": _lazy("Choose at least one front-face photo of the attendees.")},
    )

    def __init__(self, *args, members: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["present"].choices = [
            (r.user.pk, f"{r.user.name} {r.user.masked_id_number}") for r in members if r.person.on_site
        ]

    def clean_photos(self) -> list:
        # An empty multiple-file input cleans to [] without the field's own "required" check.
        photos = self.cleaned_data["photos"]
        if not photos:
            raise forms.ValidationError(self.fields["photos"].error_messages["required"], code="required")
        return photos

    def files_to_choose_again(self) -> list[str]:
        """Browsers never refill a file input: after an error the chosen photos must be chosen again (FACE-06)."""
        if not self.is_bound:
            return []
        return [
            str(self.fields[name].label)
            for name in ("sheet", "photos")
            if name in self.files and name not in self.errors
        ]


class PhotosForm(forms.Form):
    sheet = forms.ImageField(label=_lazy("Signed attendance sheet (photo)"), required=False)
    photos = MultipleImageField(label=_lazy("Front-face photos"), required=False)


def _classes(user):
    return TrainingClass.objects.filter(organisation__in=_units(user)).select_related(
        "organisation", "programme"
    )


@staff_required(*UNIT_ADMIN_ROLES)
def classes_view(request: HttpRequest) -> HttpResponse:
    form = ClassForm(request.POST or None, viewer=request.user, initial={"starts_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                training_class = classes.class_create(
                    unit=data["unit"],
                    programme=data["programme"],
                    name=data["name"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                status = 400
            else:
                messages.success(request, _("The class is open: now add its people."))
                return redirect("enterprise:class", class_id=training_class.pk)
        else:
            status = 400
    rows = _classes(request.user).annotate(member_count=Count("members")).order_by("-starts_on", "-pk")
    query = request.GET.get("q", "")[:60].strip()
    if query:
        rows = rows.filter(name__icontains=query)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "enterprise/classes.html",
        {"form": form, "classes": page, "page": page, "q": query},
        status=status,
    )


@staff_required(*UNIT_ADMIN_ROLES)
def class_view(request: HttpRequest, class_id: int) -> HttpResponse:
    training_class = get_object_or_404(_classes(request.user), pk=class_id)
    rows = classes.class_rows(training_class)
    if request.GET.get("format") == "xlsx":
        audit_log(action="enterprise.class_export", actor=request.user, obj=training_class)
        return xlsx_response(reports.rows_workbook(rows, training_class.name), f"{training_class.name}.xlsx")
    return _class_page(request, training_class, rows)


def _class_page(
    request: HttpRequest,
    training_class: TrainingClass,
    rows: list,
    *,
    session_form: GroupSessionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The class page; after a rejected group session it shows that form again, as entered, with its errors."""
    unit = training_class.organisation
    filters = {
        "untrained": request.GET.get("untrained") == "1",
        "job_type_id": _int_param(request, "job_type"),
        "team_id": _int_param(request, "team"),
    }
    candidates = classes.class_candidates(training_class, **filters)
    people = Personnel.objects.filter(organisation__path__startswith=unit.path, on_site=True)
    return render(
        request,
        "enterprise/class.html",
        {
            "training_class": training_class,
            "rows": rows,
            "done": sum(1 for r in rows if r.completed),
            "candidates": candidates,
            "filters": filters,
            "job_types": JobType.objects.filter(pk__in=people.values("job_type_id")).order_by("code"),
            "teams": classes.teams_of(unit),
            "session_form": session_form
            or GroupSessionForm(members=rows, initial={"date": timezone.localdate()}),
            "photos_form": PhotosForm(),
            "group_sessions": training_class.group_sessions.select_related("session").prefetch_related(
                "session__photos", "session__attendance"
            ),
        },
        status=status,
    )


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def class_add_view(request: HttpRequest, class_id: int) -> HttpResponse:
    training_class = get_object_or_404(_classes(request.user), pk=class_id)
    ids = [v for v in request.POST.getlist("person") if v.isdecimal() and len(v) < 12]
    try:
        result = classes.class_add(training_class=training_class, person_ids=ids, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if result.added:
            messages.success(
                request,
                _("Added to the class and enrolled: %(names)s.") % {"names": "、".join(result.added)},
            )
        if result.already:
            messages.info(
                request, _("Already in the class: %(names)s.") % {"names": "、".join(result.already)}
            )
        for name, reason in result.refused:
            messages.error(
                request, _("%(name)s was not added: %(reason)s.") % {"name": name, "reason": reason}
            )
    # Back to the list as it was filtered, to add the next ones.
    kept = QueryDict(request.POST.get("filters", "")[:500])
    query = QueryDict(mutable=True)
    for key in ("untrained", "job_type", "team"):
        if kept.get(key, "").isdecimal() and len(kept[key]) < 12:
            query[key] = kept[key]
    target = reverse("enterprise:class", kwargs={"class_id": training_class.pk})
    return redirect(f"{target}?{query.urlencode()}" if query else target)


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def class_session_view(request: HttpRequest, class_id: int) -> HttpResponse:
    training_class = get_object_or_404(_classes(request.user), pk=class_id)
    rows = classes.class_rows(training_class)
    form = GroupSessionForm(request.POST, request.FILES, members=rows)
    if form.is_valid():
        data = form.cleaned_data
        try:
            link = classes.group_session_record(
                training_class=training_class,
                date=data["date"],
                place=data["place"],
                teacher=data["teacher"],
                content=data["content"],
                minutes=data["minutes"],
                present_user_ids=data["present"],
                sheet=data["sheet"],
                photos=data["photos"],
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request, _("The group session was recorded; the faces in its photos are being matched.")
            )
            return redirect("proctoring:group", session_id=link.session_id)
    # FACE-06: show the form again as entered, each error next to its field (a redirect lost everything).
    return _class_page(request, training_class, rows, session_form=form, status=400)


@require_POST
@staff_required(*UNIT_ADMIN_ROLES)
def class_photos_view(request: HttpRequest, class_id: int, link_id: int) -> HttpResponse:
    training_class = get_object_or_404(_classes(request.user), pk=class_id)
    link = get_object_or_404(training_class.group_sessions.select_related("session"), pk=link_id)
    form = PhotosForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            count = classes.group_photos_add(
                link=link,
                sheet=form.cleaned_data["sheet"],
                photos=form.cleaned_data["photos"],
                actor=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("%(n)d photos uploaded.") % {"n": count})
            return redirect("proctoring:group", session_id=link.session_id)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("enterprise:class", class_id=training_class.pk)


@staff_required(*UNIT_ADMIN_ROLES)
def summary_view(request: HttpRequest) -> HttpResponse:
    units = _units(request.user).exclude(kind=OrganisationKind.INSTITUTION)
    wanted = _int_param(request, "unit")
    unit = (units.filter(pk=wanted).first() if wanted else None) or units.first()
    status = request.GET.get("status", "")
    if status not in classes.SUMMARY_STATUSES:
        status = ""
    name = request.POST.get("name", "")[:60].strip()  # personal data: POST only, never in the address
    rows = (
        classes.training_summary(unit, status, people=unit_people(viewer=request.user, unit=unit, name=name))
        if unit
        else []
    )
    if unit and request.GET.get("format") == "xlsx":
        audit_log(action="enterprise.summary_export", actor=request.user, obj=unit, detail={"status": status})
        return xlsx_response(reports.rows_workbook(rows, "人员培训汇总"), f"人员培训汇总-{unit.name}.xlsx")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "enterprise/summary.html",
        {"units": units, "unit": unit, "rows": page, "page": page, "status": status, "name": name},
    )
