"""Institution registration pages (ORG-04, REG-03): the institution's application, the city module's review, the
public per-city lists."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext

from safetrain.accounts.identity import Sex
from safetrain.accounts.models import Role
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.excel import table_xlsx
from safetrain.core.forms import MonthField
from safetrain.core.http import xlsx_response
from safetrain.orgs.models import Industry, Organisation, OrganisationKind, Region
from safetrain.records.services import audit_log
from safetrain.regulator import complaints, registrations, statistics, surveys
from safetrain.regulator.models import (
    Complaint,
    ComplaintKind,
    ComplaintState,
    InstitutionRegistration,
    RegistrationState,
    Survey,
    SurveyResponse,
)


class ApplyForm(forms.Form):
    institution = forms.ModelChoiceField(label=_lazy("Institution"), queryset=Organisation.objects.none())
    city = forms.ModelChoiceField(label=_lazy("City module"), queryset=Region.objects.none())
    legal_representative = forms.CharField(label=_lazy("Legal representative"), max_length=60)
    address = forms.CharField(label=_lazy("Office address"), max_length=200)
    contact_name = forms.CharField(label=_lazy("Contact person"), max_length=60)
    contact_phone = forms.CharField(label=_lazy("Contact phone"), max_length=30)
    scope = forms.CharField(label=_lazy("Training offered"), widget=forms.Textarea(attrs={"rows": 3}))
    commitment = forms.FileField(label=_lazy("Signed commitment letter (附件2, PDF or photo)"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = Organisation.objects.administered_by(viewer).filter(
            kind=OrganisationKind.INSTITUTION
        )
        self.fields["city"].queryset = registrations.cities()


def _mine(user):
    return InstitutionRegistration.objects.filter(
        institution__in=Organisation.objects.administered_by(user).filter(kind=OrganisationKind.INSTITUTION)
    ).select_related("institution", "city")


@staff_required(Role.INSTITUTION_ADMIN)
def apply_view(request: HttpRequest) -> HttpResponse:
    form = ApplyForm(request.POST or None, request.FILES or None, viewer=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                registration = registrations.registration_apply(
                    institution=data["institution"],
                    city=data["city"],
                    commitment=data["commitment"],
                    details=data,
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _("The application was sent to the %(city)s module.") % {"city": registration.city.name},
                )
                return redirect("regulator:registration", registration_id=registration.pk)
    return render(request, "regulator/apply.html", {"form": form, "mine": _mine(request.user)}, status=status)


def _visible(user):
    return (registrations.supervised_registrations(user) | _mine(user)).distinct()


@staff_required(Role.REGULATOR)
def registrations_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    rows = registrations.supervised_registrations(request.user)
    if state in RegistrationState.values:
        rows = rows.filter(state=state)
    return render(
        request,
        "regulator/registrations.html",
        {"rows": rows[:500], "state": state, "states": RegistrationState.choices},
    )


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN)
def registration_view(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = get_object_or_404(_visible(request.user), pk=registration_id)
    if request.method == "POST":
        action, reason = request.POST.get("action", ""), request.POST.get("reason", "")
        try:
            if action in ("approve", "reject"):
                registrations.registration_decide(
                    registration=registration, approve=action == "approve", reason=reason, actor=request.user
                )
            else:
                registrations.registration_change(
                    registration=registration, action=action, reason=reason, actor=request.user
                )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Saved."))
        return redirect("regulator:registration", registration_id=registration.pk)
    return render(
        request,
        "regulator/registration.html",
        {
            "registration": registration,
            "events": registration.events.select_related("actor"),
            "decides": registrations.regulated_cities(request.user).filter(pk=registration.city_id).exists(),
            "owns": _mine(request.user).filter(pk=registration.pk).exists(),
        },
    )


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN)
def commitment_view(request: HttpRequest, registration_id: int) -> FileResponse:
    registration = get_object_or_404(_visible(request.user), pk=registration_id)
    if not registration.commitment:
        raise Http404
    extension = registration.commitment.name.rsplit(".", 1)[-1].lower()
    content_type = registrations.COMMITMENT_CONTENT_TYPES.get(extension, "application/octet-stream")
    response = FileResponse(
        registration.commitment.open("rb"),
        content_type=content_type,
        as_attachment=True,
        filename=f"承诺书-{registration.institution.name}.{extension}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def public_cities_view(request: HttpRequest) -> HttpResponse:
    rows = (
        InstitutionRegistration.objects.filter(state=RegistrationState.APPROVED)
        .values("city__code", "city__name")
        .annotate(n=Count("pk"))
        .order_by("city__code")
    )
    return render(request, "regulator/public_cities.html", {"rows": rows})


def public_city_view(request: HttpRequest, code: str) -> HttpResponse:
    city = get_object_or_404(registrations.cities(), code=code)
    return render(
        request, "regulator/public_city.html", {"city": city, "rows": registrations.public_list(city)}
    )


# Complaints and feedback (REG-05) -----------------------------------------------------------------------------


class ComplaintForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("Type of feedback"), choices=ComplaintKind.choices)
    about = forms.ModelChoiceField(
        label=_lazy("About (optional: the training institution or unit)"),
        queryset=Organisation.objects.none(),
        required=False,
    )
    title = forms.CharField(label=_lazy("Subject"), max_length=120)
    text = forms.CharField(
        label=_lazy("What happened"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000
    )
    contact_name = forms.CharField(label=_lazy("Your name"), max_length=60, required=False)
    contact_phone = forms.CharField(
        label=_lazy("Your mobile phone"),
        max_length=20,
        required=False,
        help_text=_lazy("Used only to answer you; it is erased when the matter is closed."),
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        registered = InstitutionRegistration.objects.filter(state=RegistrationState.APPROVED).values(
            "institution_id"
        )
        own = (
            [m.organisation_id for m in viewer.active_memberships()]
            if getattr(viewer, "is_authenticated", False)
            else []
        )
        self.fields["about"].queryset = Organisation.objects.filter(
            Q(pk__in=registered) | Q(pk__in=own),
            kind__in=[OrganisationKind.INSTITUTION, OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT],
        ).order_by("name")
        if getattr(viewer, "is_authenticated", False):
            del self.fields["contact_name"], self.fields["contact_phone"]


def feedback_view(request: HttpRequest) -> HttpResponse:
    form = ComplaintForm(request.POST or None, viewer=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                complaint = complaints.complaint_submit(
                    kind=data["kind"],
                    title=data["title"],
                    text=data["text"],
                    about=data.get("about"),
                    submitter=request.user,
                    contact_name=data.get("contact_name", ""),
                    contact_phone=data.get("contact_phone", ""),
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _(
                        "Sent as %(n)s. The answer is due by %(day)s; keep the address of this page to follow it."
                    )
                    % {"n": complaint.number, "day": complaint.due_on.isoformat()},
                )
                return redirect("regulator:feedback_item", token=complaint.token)
    mine = (
        Complaint.objects.filter(submitter=request.user)[:50]
        if getattr(request.user, "is_authenticated", False)
        else []
    )
    return render(request, "regulator/feedback.html", {"form": form, "mine": mine}, status=status)


def feedback_item_view(request: HttpRequest, token: str) -> HttpResponse:
    """The sender's page (open to whoever holds its address)."""
    if len(token) != 43:
        raise Http404
    complaint = get_object_or_404(Complaint.objects.select_related("about"), token=token)
    if request.method == "POST":
        rating = request.POST.get("rating", "")
        try:
            complaints.complaint_reply(
                complaint=complaint,
                solved=request.POST.get("solved") == "1",
                rating=int(rating) if rating.isdecimal() and len(rating) == 1 else None,
                note=request.POST.get("note", ""),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Thank you for your reply."))
        return redirect("regulator:feedback_item", token=token)
    return render(
        request, "regulator/feedback_item.html", {"complaint": complaint, "events": complaint.events.all()}
    )


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN, Role.ENTERPRISE_ADMIN)
def feedback_manage_view(request: HttpRequest) -> HttpResponse:
    rows = complaints.staff_complaints(request.user)
    state = request.GET.get("state", "")
    if state in ComplaintState.values:
        rows = rows.filter(state=state)
    if request.GET.get("format") == "xlsx":
        return _complaints_xlsx(request, rows)
    return render(
        request,
        "regulator/feedback_manage.html",
        {
            "rows": rows[:300],
            "state": state,
            "states": ComplaintState.choices,
            "stats": complaints.complaint_stats(complaints.staff_complaints(request.user)),
            "today": timezone.localdate(),
        },
    )


def _complaints_xlsx(request: HttpRequest, rows) -> HttpResponse:
    """The complaints of the current filter that the viewer handles, as one sheet."""
    columns = [
        _("Number"),
        _("Kind"),
        _("Subject"),
        _("About"),
        _("State"),
        _("Submitted at"),
        _("Answer due by"),
        _("Hours to answer"),
        _("Satisfaction (1-5)"),
    ]
    data = table_xlsx(
        str(_("Complaints")),
        [str(c) for c in columns],
        (
            [
                c.number,
                c.get_kind_display(),
                c.title,
                c.about.name if c.about else "",
                c.get_state_display(),
                timezone.localtime(c.submitted_at).strftime("%Y-%m-%d %H:%M"),
                c.due_on.isoformat(),
                c.hours_to_answer,
                c.rating,
            ]
            for c in rows.select_related("about")[:20000]
        ),
    )
    audit_log(action="regulator.complaints_export", detail={"state": request.GET.get("state", "")[:20]})
    return xlsx_response(data, f"投诉清单-{timezone.localdate():%Y%m%d}.xlsx")


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN, Role.ENTERPRISE_ADMIN)
def feedback_handle_view(request: HttpRequest, number: str) -> HttpResponse:
    complaint = get_object_or_404(complaints.staff_complaints(request.user), number=number)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "assign":
                assignee_id = request.POST.get("assignee", "")
                assignee = get_object_or_404(
                    get_user_model(),
                    pk=int(assignee_id) if assignee_id.isdecimal() and len(assignee_id) < 12 else 0,
                )
                complaints.complaint_assign(complaint=complaint, assignee=assignee, actor=request.user)
            else:
                complaints.complaint_answer(
                    complaint=complaint, response=request.POST.get("response", ""), actor=request.user
                )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Saved."))
        return redirect("regulator:feedback_handle", number=complaint.number)
    candidates = []
    if request.user.sees_everything() and complaint.about_id:
        candidates = list(
            get_user_model()
            .objects.filter(
                memberships__organisation__in=Organisation.objects.filter(
                    Q(pk=complaint.about_id)
                    | Q(pk__in=Organisation.objects.get(pk=complaint.about_id).path.strip("/").split("/"))
                ),
                memberships__role__in=[Role.INSTITUTION_ADMIN, Role.ENTERPRISE_ADMIN],
                memberships__is_active=True,
            )
            .distinct()
        )
    return render(
        request,
        "regulator/feedback_handle.html",
        {
            "complaint": complaint,
            "events": complaint.events.select_related("actor"),
            "handles": complaints.handles(request.user, complaint),
            "candidates": candidates,
        },
    )


# Satisfaction survey (REG-04) ---------------------------------------------------------------------------------


@login_required
def survey_view(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=survey_id)
    if SurveyResponse.objects.filter(survey=survey, learner=request.user).exists():
        return render(request, "regulator/survey_done.html", {"survey": survey})
    pairs = surveys.items(survey, request.user)
    error = ""
    if request.method == "POST":
        try:
            surveys.survey_submit(
                survey=survey,
                learner=request.user,
                marks={k: v for k, v in request.POST.items() if k.startswith("q")},
                comments={
                    k.removeprefix("comment_"): v for k, v in request.POST.items() if k.startswith("comment_")
                },
            )
        except DomainError as failure:
            error = failure.message
        else:
            messages.success(request, _("Thank you for taking part in the survey."))
            return redirect("home")
    rows = [
        {
            "key": surveys.item_key(question, subject),
            "question": question,
            "subject": subject,
            "value": request.POST.get(surveys.item_key(question, subject), ""),
        }
        for question, subject in pairs
    ]
    return render(
        request,
        "regulator/survey.html",
        {"survey": survey, "rows": rows, "error": error, "marks": ["1", "2", "3", "4", "5"]},
        status=400 if error else 200,
    )


@staff_required(Role.REGULATOR)
def survey_results_view(request: HttpRequest, survey_id: int | None = None) -> HttpResponse:
    all_surveys = Survey.objects.all()
    survey = get_object_or_404(all_surveys, pk=survey_id) if survey_id else all_surveys.first()
    results = None
    if survey is not None:
        scope = None if request.user.sees_everything() else Organisation.objects.supervised_by(request.user)
        results = surveys.survey_results(survey, scope=scope)
    return render(
        request,
        "regulator/survey_results.html",
        {"surveys": all_surveys, "survey": survey, "results": results, "flag": surveys.FLAG_BELOW_PERCENT},
    )


# Statistics (REG-01) and the learner search (REG-02) ---------------------------------------------------------


class StatisticsForm(forms.Form):
    start = MonthField(label=_lazy("From month"), required=False)
    end = MonthField(label=_lazy("To month"), required=False)
    age_band = forms.ChoiceField(label=_lazy("Age"), required=False)
    sex = forms.ChoiceField(label=_lazy("Sex"), required=False)
    unit = forms.ModelChoiceField(
        label=_lazy("Institution or enterprise"), required=False, queryset=Organisation.objects.none()
    )
    industry = forms.ChoiceField(label=_lazy("Industry"), required=False)
    region = forms.ModelChoiceField(label=_lazy("Region"), required=False, queryset=Region.objects.none())

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["age_band"].choices = [("", _lazy("All"))] + [
            (k, AGE_LABELS[k]) for k, _l, _h in statistics.AGE_BANDS
        ]
        self.fields["sex"].choices = [("", _lazy("All")), *Sex.choices]
        self.fields["industry"].choices = [("", _lazy("All")), *Industry.choices]
        units = Organisation.objects.supervised_by(viewer)
        self.fields["unit"].queryset = units.filter(
            kind__in=[OrganisationKind.INSTITUTION, OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT]
        ).order_by("name")
        # Any level between the viewer's region and its units' (REG-01 drill-down), never above the viewer's.
        self.fields["region"].queryset = statistics.drill_regions(viewer)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The last month is before the first: swap them."))
        return data

    def filters(self) -> statistics.Filters:
        data = self.cleaned_data if self.is_valid() else {}
        return statistics.Filters(
            start=data.get("start"),
            end=data.get("end"),
            age_band=data.get("age_band") or "",
            sex=data.get("sex") or "",
            unit=data.get("unit"),
            industry=data.get("industry") or "",
            region=data.get("region"),
        )


AGE_LABELS = {
    "under30": _lazy("Under 30"),
    "30to39": _lazy("30 to 39"),
    "40to49": _lazy("40 to 49"),
    "50to59": _lazy("50 to 59"),
    "60plus": _lazy("60 and over"),
}


@staff_required(Role.REGULATOR)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    form = StatisticsForm(request.GET or None, viewer=request.user)
    if request.GET and not form.is_valid():
        # A filter that is not valid (a region outside the viewer's, a wrong date) shows its error and no figures:
        # never figures that silently ignore what was asked.
        return render(request, "regulator/dashboard.html", {"form": form, "board": None}, status=400)
    filters = form.filters() if request.GET else statistics.Filters()
    board = statistics.dashboard(request.user, filters)
    if request.GET.get("format") == "xlsx":
        return xlsx_response(_dashboard_workbook(board), f"培训统计-{timezone.localdate():%Y%m%d}.xlsx")
    industries = dict(Industry.choices)
    counted = dict(board.by_sex)
    # Every sex with its count, 0 included, so the chart and its legend read 男 3 · 女 1 · 未知 0.
    sexes = [(str(label), counted.get(value, 0)) for value, label in Sex.choices]
    sexes.append((pgettext("sex", "Unknown"), sum(n for k, n in counted.items() if k not in Sex.values)))
    charts = {
        "months": [m for m, _n in board.by_month],
        "enrolments": [n for _m, n in board.by_month],
        "industries": [
            {"name": str(industries.get(k, _("Not set"))), "value": n} for k, n in board.by_industry
        ],
        "ages": [{"name": str(AGE_LABELS[k]), "value": n} for k, n in board.by_age],
        "sexes": [
            {"name": _("%(label)s: %(n)s") % {"label": label, "n": n}, "value": n} for label, n in sexes
        ],
    }
    query = request.GET.copy()
    query.pop("format", None)

    def drill(region) -> str:
        # The same filters, one region further down (or back up): REG-01 drill-down.
        kept = query.copy()
        kept.pop("region", None)
        if region is not None and region != statistics.home_region(request.user):
            kept["region"] = str(region.pk)
        return f"?{kept.urlencode()}"

    for row in board.by_region:
        if row["unit"] is not None and row["unit"].kind != OrganisationKind.TEAM:
            row["url"] = reverse("regulator:learner_search") + f"?unit={row['unit'].pk}"
        elif row["unit"] is not None:
            row["url"] = reverse("regulator:learner_search") + f"?region={board.level.pk}"
        else:
            row["url"] = drill(row["region"])
    charts["regions"] = [
        {"name": row["name"], "value": row["learners"], "url": row["url"]} for row in board.by_region
    ]
    crumbs = [{"name": r.name, "url": drill(r)} for r in statistics.breadcrumb(request.user, board.level)]
    if statistics.home_region(request.user) is None:
        crumbs.insert(0, {"name": _("All provinces"), "url": drill(None)})
    return render(
        request,
        "regulator/dashboard.html",
        {
            "form": form,
            "board": board,
            "charts": charts,
            "sexes": sexes,
            "crumbs": crumbs,
            "query": query.urlencode(),
        },
    )


def _dashboard_workbook(board) -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "培训统计"
    sheet.append(
        [
            "注册学员",
            "在线学员",
            "参训人次",
            "有效证书",
            "考试人次",
            "考试合格人次",
            "合格率",
            "发证数",
            "撤销数",
        ]
    )
    sheet.append(
        [
            board.registered,
            board.online,
            board.enrolled,
            board.completed,
            board.exams,
            board.exams_passed,
            f"{board.pass_rate}%" if board.pass_rate is not None else "",
            board.certificates,
            board.revoked,
        ]
    )
    sheet.append([])
    sheet.append(["地区", "注册学员", "参训人次", "有效证书", "合格率"])
    for row in board.by_region:
        sheet.append(
            [
                row["name"],
                row["learners"],
                row["enrolled"],
                row["certified"],
                f"{row['pass_rate']}%" if row["pass_rate"] is not None else "",
            ]
        )
    for row_number in (1, 4):
        for cell in sheet[row_number]:
            cell.font = Font(bold=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@staff_required(Role.REGULATOR)
def learner_search_view(request: HttpRequest) -> HttpResponse:
    form = StatisticsForm(request.GET or None, viewer=request.user)
    name, id_number = request.GET.get("name", "")[:60], request.GET.get("id_number", "")[:18]
    rows = None
    if request.GET and form.is_valid():
        rows = statistics.learner_search(request.user, form.filters(), name=name, id_number=id_number)[:200]
    return render(
        request,
        "regulator/learner_search.html",
        {"form": form, "rows": rows, "name": name, "id_number": id_number},
    )
