"""Regulator statistics (REG-01) and the learner search (REG-02), always within the viewer's region.

A regulator sees the units of its region's subtree (`Organisation.supervised_by`); the learners counted are the
learner memberships of those units. Filters: a period in whole months (enrolments opened, exams submitted and
certificates issued in it), an age band (by year of birth) and a sex (both from the ID number), a unit (an
institution or an enterprise, with its subtree), an industry, a region inside the viewer's.

The dashboard reads the statistics cube (`counters`: counts per unit, month, sex and year of birth, kept up to date
on every change), so its cost grows with the number of units and months, not of learners. Enrolments, exams and
certificates are counted as records (人次): a learner enrolled twice counts twice. The learner search reads the
accounts themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from safetrain.accounts.models import AuthSession, Membership, Role, User, name_index_of
from safetrain.orgs.models import Organisation, OrganisationKind, Region
from safetrain.regulator.counters import month_of
from safetrain.regulator.models import StatCount, StatMetric, StatRollup

AGE_BANDS = (
    ("under30", 0, 29),
    ("30to39", 30, 39),
    ("40to49", 40, 49),
    ("50to59", 50, 59),
    ("60plus", 60, 200),
)
ONLINE_MINUTES = 5
ACTIVITY = [m for m in StatMetric.values if m != StatMetric.LEARNERS]
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


def age_band_years(band: str, today: dt.date) -> tuple[int, int] | None:
    """The birth years of a band: ages are counted by year of birth (年龄 = 当年 − 出生年份), the rule the
    statistics cube can answer for any period without one row per birth date."""
    for name, low, high in AGE_BANDS:
        if name == band:
            return today.year - high, today.year - low
    return None


def age_band_of(birth_year: int | None, today: dt.date) -> str | None:
    if birth_year is None:
        return None
    age = today.year - birth_year
    return next((name for name, low, high in AGE_BANDS if low <= age <= high), None)


def month_span(filters: Filters) -> tuple[dt.date | None, dt.date | None]:
    """The period in whole months (the statistics are kept per month): from the month of `start` to the month of
    `end`, both included."""
    return month_of(filters.start), month_of(filters.end)


def scope_units(viewer: Any, filters: Filters) -> QuerySet[Organisation]:
    units = Organisation.objects.supervised_by(viewer).filter(kind__in=TRAINING_UNIT_KINDS)
    if filters.unit is not None:
        units = units.filter(path__startswith=filters.unit.path)
    if filters.industry:
        units = units.filter(industry=filters.industry)
    if filters.region is not None:
        units = units.filter(region__path__startswith=filters.region.path)
    return units


def home_region(viewer: Any) -> Region | None:
    """The region a regulator answers for: the top of its drill-down (a city regulator never climbs above its
    city). None for the platform's operators, whose drill-down starts at the provinces."""
    if viewer.sees_everything():
        return None
    regions = {m.organisation.region for m in viewer.active_memberships() if m.role == Role.REGULATOR}
    return regions.pop() if len(regions) == 1 else None


def drill_regions(viewer: Any) -> QuerySet[Region]:
    """The regions a viewer may drill into: within its own region, and holding at least one unit it supervises
    (province → city → county, the levels between included)."""
    units = Organisation.objects.supervised_by(viewer).filter(kind__in=TRAINING_UNIT_KINDS)
    paths = set(units.values_list("region__path", flat=True).distinct())
    codes = {code for path in paths if path for code in path.split("/") if code}
    regions = Region.objects.filter(code__in=codes)
    home = home_region(viewer)
    if home is not None:
        regions = regions.filter(path__startswith=home.path)
    return regions.order_by("code")


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
        years = age_band_years(filters.age_band, timezone.localdate())
        if years:
            qs = qs.filter(birth_date__year__gte=years[0], birth_date__year__lte=years[1])
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
    # The level shown (None: every province) and one row per region just below it, or per unit at the bottom.
    level: Region | None = None
    by_region: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return round(100 * self.exams_passed / self.exams, 1) if self.exams else None


def dashboard(viewer: Any, filters: Filters) -> Dashboard:
    """Every figure of the dashboard from the statistics cube (`counters`): five queries over a few rows per unit
    and month, whatever the number of learners. Only "online now" reads the live sessions (the few open ones)."""
    today = timezone.localdate()
    units = scope_units(viewer, filters)
    unit_info = {
        pk: (region, industry) for pk, region, industry in units.values_list("pk", "region_id", "industry")
    }
    years = age_band_years(filters.age_band, today) if filters.age_band else None
    cohort = Q()
    if filters.sex:
        cohort &= Q(sex=filters.sex)
    if years:
        cohort &= Q(birth_year__gte=years[0], birth_year__lte=years[1])
    first, last = month_span(filters)
    # Enrolments, exams and certificates per unit and month: the rollup when no sex or age is asked for.
    source = StatCount.objects.filter(cohort) if filters.sex or years else StatRollup.objects.all()
    activity = source.filter(metric__in=ACTIVITY, unit__in=units.values("pk"))
    if first:
        activity = activity.filter(month__gte=first)
    if last:
        activity = activity.filter(month__lte=last)
    totals: dict[str, int] = defaultdict(int)
    months: dict[dt.date, int] = defaultdict(int)
    industries: dict[str, int] = defaultdict(int)
    per_unit: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for unit, metric, month, n in (
        activity.values_list("unit_id", "metric", "month").annotate(total=Sum("n")).order_by()
    ):
        _region, industry = unit_info.get(unit, (None, ""))
        totals[metric] += n
        per_unit[unit][metric] += n
        if metric == StatMetric.ENROLMENTS:
            months[month] += n
            industries[industry or ""] += n
    # Registered learners by sex, year of birth and region: one query, summed here.
    people = StatCount.objects.filter(cohort, metric=StatMetric.LEARNERS, unit__in=units.values("pk"))
    by_sex: dict[str, int] = defaultdict(int)
    by_year: dict[int | None, int] = defaultdict(int)
    for unit, sex, year, n in (
        people.values_list("unit_id", "sex", "birth_year").annotate(total=Sum("n")).order_by()
    ):
        per_unit[unit][StatMetric.LEARNERS] += n
        by_sex[sex or ""] += n
        by_year[year] += n
    # Online now: the open sessions seen in the last minutes (an index on them), of learners of these units.
    recent = AuthSession.objects.filter(
        ended_at__isnull=True, last_seen_at__gte=timezone.now() - dt.timedelta(minutes=ONLINE_MINUTES)
    ).values("user_id")
    online = Membership.objects.filter(
        role=Role.LEARNER, is_active=True, organisation__in=units.values("pk"), user_id__in=recent
    )
    if filters.sex:
        online = online.filter(user__sex=filters.sex)
    if years:
        online = online.filter(user__birth_date__year__gte=years[0], user__birth_date__year__lte=years[1])
    exams = totals[StatMetric.EXAMS_PASSED] + totals[StatMetric.EXAMS_FAILED]
    result = Dashboard(
        registered=sum(by_sex.values()),
        online=online.values("user_id").distinct().count(),
        enrolled=totals[StatMetric.ENROLMENTS],
        completed=totals[StatMetric.CERTIFICATES],
        exams=exams,
        exams_passed=totals[StatMetric.EXAMS_PASSED],
        certificates=totals[StatMetric.CERTIFICATES] + totals[StatMetric.REVOKED],
        revoked=totals[StatMetric.REVOKED],
    )
    result.by_month = [(month.strftime("%Y-%m"), n) for month, n in sorted(months.items()) if month and n]
    result.by_industry = sorted(((k, n) for k, n in industries.items() if n), key=lambda kv: (-kv[1], kv[0]))
    result.by_sex = sorted((k or "", n) for k, n in by_sex.items() if n)
    ages: dict[str, int] = defaultdict(int)
    for year, n in by_year.items():
        band = age_band_of(year, today)
        if band:
            ages[band] += n
    result.by_age = [(name, ages[name]) for name, _l, _h in AGE_BANDS]
    result.level = filters.region or home_region(viewer)
    result.by_region = _drill_rows(result.level, per_unit)
    return result


def _drill_rows(level: Region | None, per_unit: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """REG-01 drill-down: the figures of each region just below `level` (its cities, counties…), then, for the
    units located at `level` itself (the bottom), one row per unit with the units under it summed in."""
    active = {unit: figures for unit, figures in per_unit.items() if any(figures.values())}
    units = {
        o.pk: o
        for o in Organisation.objects.filter(pk__in=active)
        .select_related("region")
        .only("pk", "name", "kind", "path", "region__path", "region__code")
    }
    prefix = level.path if level is not None else ""  # region paths end with "/": 440000/440300/
    by_child: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    here: dict[int, Organisation] = {}
    for pk, unit in units.items():
        path = unit.region.path
        if level is not None and path == level.path:
            here[pk] = unit
        elif path.startswith(prefix):
            child = path[len(prefix) :].split("/")[0]
            for metric, n in active[pk].items():
                by_child[child][metric] += n
    rows = [
        {"region": region, "unit": None, "name": region.name, **_figures(by_child[region.code])}
        for region in Region.objects.filter(code__in=by_child).order_by("code")
    ]
    # Units at this level: each counted with the units beneath it (an enterprise with its projects and teams).
    tops = [
        u for u in here.values() if not any(u.path.startswith(o.path) and u.pk != o.pk for o in here.values())
    ]
    for top in sorted(tops, key=lambda u: u.name):
        summed: dict[str, int] = defaultdict(int)
        for unit in here.values():
            if unit.path.startswith(top.path):
                for metric, n in active[unit.pk].items():
                    summed[metric] += n
        rows.append({"region": None, "unit": top, "name": top.name, **_figures(summed)})
    return rows


def _figures(figures: dict[str, int]) -> dict[str, Any]:
    passed = figures.get(StatMetric.EXAMS_PASSED, 0)
    sat = passed + figures.get(StatMetric.EXAMS_FAILED, 0)
    return {
        "learners": figures.get(StatMetric.LEARNERS, 0),
        "enrolled": figures.get(StatMetric.ENROLMENTS, 0),
        "certified": figures.get(StatMetric.CERTIFICATES, 0),
        "pass_rate": round(100 * passed / sat, 1) if sat else None,
    }


def breadcrumb(viewer: Any, level: Region | None) -> list[Region]:
    """The regions from the viewer's own down to the level shown, for the way back up."""
    home = home_region(viewer)
    chain: list[Region] = []
    node = level
    while node is not None:
        chain.append(node)
        if home is not None and node.pk == home.pk:
            break
        node = node.parent
    return list(reversed(chain))


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
