"""Regulator statistics (REG-01) and the learner search (REG-02), always within the viewer's region.

A regulator sees the units of its region's subtree (`Organisation.supervised_by`); the learners counted are the
learner memberships of those units. Filters: a period (enrolments opened, exams submitted and certificates issued
in it), an age band and a sex (from the ID number), a unit (an institution or an enterprise, with its subtree), an
industry, a region inside the viewer's.

Every figure is one aggregate query over indexed columns; the breakdowns (per month, industry, age band, region)
are GROUP BY queries. What is *not* here yet: the pre-aggregated tables the 200,000-learner target needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from safetrain.accounts.models import AuthSession, Membership, Role, User, name_index_of
from safetrain.assessment.models import AttemptKind, ExamAttempt
from safetrain.certification.models import Certificate
from safetrain.core.dates import add_months
from safetrain.learning.models import Enrolment
from safetrain.orgs.models import Organisation, OrganisationKind, Region

AGE_BANDS = (
    ("under30", 0, 29),
    ("30to39", 30, 39),
    ("40to49", 40, 49),
    ("50to59", 50, 59),
    ("60plus", 60, 200),
)
ONLINE_MINUTES = 5
TRAINING_UNIT_KINDS = (
    OrganisationKind.INSTITUTION,
    OrganisationKind.ENTERPRISE,
    OrganisationKind.PROJECT,
    OrganisationKind.TEAM,
)


@dataclass
class Filters:
    start: dt.date | None = None
    end: dt.date | None = None
    age_band: str = ""
    sex: str = ""
    unit: Organisation | None = None
    industry: str = ""
    region: Region | None = None


def _birth_range(band: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """Birth dates of the people whose age is in the band today (low..high years, inclusive)."""
    for name, low, high in AGE_BANDS:
        if name == band:
            return add_months(today, -12 * (high + 1)) + dt.timedelta(days=1), add_months(today, -12 * low)
    return None


def scope_units(viewer: Any, filters: Filters) -> QuerySet[Organisation]:
    units = Organisation.objects.supervised_by(viewer).filter(kind__in=TRAINING_UNIT_KINDS)
    if filters.unit is not None:
        units = units.filter(path__startswith=filters.unit.path)
    if filters.industry:
        units = units.filter(industry=filters.industry)
    if filters.region is not None:
        units = units.filter(region__path__startswith=filters.region.path)
    return units


def learners(viewer: Any, filters: Filters) -> QuerySet[User]:
    units = scope_units(viewer, filters)
    qs = User.objects.filter(
        pk__in=Membership.objects.filter(role=Role.LEARNER, is_active=True, organisation__in=units).values(
            "user_id"
        )
    )
    if filters.sex:
        qs = qs.filter(sex=filters.sex)
    if filters.age_band:
        bounds = _birth_range(filters.age_band, timezone.localdate())
        if bounds:
            qs = qs.filter(birth_date__range=bounds)
    return qs


@dataclass
class Dashboard:
    registered: int
    online: int
    enrolled: int
    completed: int
    exams: int
    exams_passed: int
    certificates: int
    revoked: int
    by_month: list[tuple[str, int]] = field(default_factory=list)
    by_industry: list[tuple[str, int]] = field(default_factory=list)
    by_age: list[tuple[str, int]] = field(default_factory=list)
    by_sex: list[tuple[str, int]] = field(default_factory=list)
    by_region: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return round(100 * self.exams_passed / self.exams, 1) if self.exams else None


def dashboard(viewer: Any, filters: Filters) -> Dashboard:
    people = learners(viewer, filters)
    units = scope_units(viewer, filters)
    enrolments = Enrolment.objects.filter(learner__in=people).filter(
        Q(organisation__in=units) | Q(organisation__isnull=True)
    )
    exams = ExamAttempt.objects.filter(
        kind=AttemptKind.EXAM, submitted_at__isnull=False, enrolment__in=enrolments
    )
    certificates = Certificate.objects.filter(enrolment__in=enrolments)
    if filters.start:
        enrolments_in = enrolments.filter(opened_on__gte=filters.start)
        exams = exams.filter(submitted_at__date__gte=filters.start)
        certificates = certificates.filter(issued_on__gte=filters.start)
    else:
        enrolments_in = enrolments
    if filters.end:
        enrolments_in = enrolments_in.filter(opened_on__lte=filters.end)
        exams = exams.filter(submitted_at__date__lte=filters.end)
        certificates = certificates.filter(issued_on__lte=filters.end)
    exam_counts = exams.aggregate(n=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
    certificate_counts = certificates.aggregate(
        n=Count("pk"), revoked=Count("pk", filter=Q(revoked_at__isnull=False))
    )
    online = (
        AuthSession.objects.filter(
            user__in=people,
            ended_at__isnull=True,
            last_seen_at__gte=timezone.now() - dt.timedelta(minutes=ONLINE_MINUTES),
        )
        .values("user_id")
        .distinct()
        .count()
    )
    result = Dashboard(
        registered=people.count(),
        online=online,
        enrolled=enrolments_in.values("learner_id").distinct().count(),
        completed=certificates.filter(revoked_at__isnull=True).values("learner_id").distinct().count(),
        exams=exam_counts["n"],
        exams_passed=exam_counts["passed"],
        certificates=certificate_counts["n"],
        revoked=certificate_counts["revoked"],
    )
    result.by_month = [
        (row["month"].strftime("%Y-%m"), row["n"])
        for row in enrolments_in.annotate(month=TruncMonth("opened_on"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
        if row["month"]
    ]
    result.by_industry = [
        (row["organisation__industry"] or "", row["n"])
        for row in enrolments_in.values("organisation__industry").annotate(n=Count("pk")).order_by("-n")
    ]
    result.by_sex = [
        (row["sex"] or "", row["n"]) for row in people.values("sex").annotate(n=Count("pk")).order_by("sex")
    ]
    today = timezone.localdate()
    ages = people.aggregate(
        **{
            name: Count("pk", filter=Q(birth_date__range=_birth_range(name, today)))
            for name, _l, _h in AGE_BANDS
        }
    )
    result.by_age = [(name, ages[name]) for name, _l, _h in AGE_BANDS]
    # By region: one GROUP BY per figure, on the region of the learner's unit in scope (the units the filters
    # chose), so that a row never names a region outside the viewer's and its link filters consistently.
    membership = Q(
        learner__memberships__organisation__in=units,
        learner__memberships__role=Role.LEARNER,
        learner__memberships__is_active=True,
    )
    here = "learner__memberships__organisation__region"
    learners_by = {
        r["organisation__region"]: r["n"]
        for r in Membership.objects.filter(
            role=Role.LEARNER, is_active=True, organisation__in=units, user__in=people
        )
        .values("organisation__region")
        .annotate(n=Count("user", distinct=True))
    }
    enrolled_by = {
        r[here]: r["n"]
        for r in enrolments_in.filter(membership).values(here).annotate(n=Count("learner", distinct=True))
    }
    certified_by = {
        r[here]: r["n"]
        for r in certificates.filter(membership, revoked_at__isnull=True)
        .values(here)
        .annotate(n=Count("learner", distinct=True))
    }
    exam_membership = Q(
        enrolment__learner__memberships__organisation__in=units,
        enrolment__learner__memberships__role=Role.LEARNER,
        enrolment__learner__memberships__is_active=True,
    )
    exams_by = {
        r["enrolment__" + here]: (r["n"], r["passed"])
        for r in exams.filter(exam_membership)
        .values("enrolment__" + here)
        .annotate(n=Count("pk", distinct=True), passed=Count("pk", filter=Q(passed=True), distinct=True))
    }
    for region in Region.objects.filter(pk__in=[k for k in learners_by if k is not None]).order_by("code"):
        n, passed = exams_by.get(region.pk, (0, 0))
        result.by_region.append(
            {
                "region": region,
                "learners": learners_by.get(region.pk, 0),
                "enrolled": enrolled_by.get(region.pk, 0),
                "certified": certified_by.get(region.pk, 0),
                "pass_rate": round(100 * passed / n, 1) if n else None,
            }
        )
    return result


def learner_search(viewer: Any, filters: Filters, *, name: str = "", id_number: str = "") -> QuerySet[User]:
    """REG-02: learners in scope by exact name (a blind index: names are encrypted), ID number, sex, age band,
    unit (an institution or enterprise), industry, region."""
    from safetrain.accounts.models import id_index_of

    qs = learners(viewer, filters)
    if name.strip():
        qs = qs.filter(name_index=name_index_of(name))
    if id_number.strip():
        qs = qs.filter(id_index=id_index_of(id_number.strip().upper()))
    return qs.select_related("primary_organisation").order_by("pk")
