"""The pre-aggregated statistics behind the regulator dashboard (REG-01), kept up to date incrementally.

`StatCount` holds, per training unit, metric and month, how many records there are for each sex and year of birth
of the learners; `StatRollup` the same summed over sex and year of birth. A dashboard reads a few thousand of these
rows instead of joining every learner, enrolment, exam and certificate of its region.

What is counted, and where:

- `learner`: the learners at home in the unit now (no month): a learner counts once, at their own unit
  (`User.primary_organisation`) when they are an active learner there, else at their first active learner unit.
- `enrol`: enrolments (参训人次) by the month they were opened, void ones left out.
- `pass` / `fail`: submitted exam papers by the local month they were submitted, passed or not.
- `cert` / `revoked`: training certificates (not the hour proofs issued beside some) by the month they were
  issued, in force or revoked since.

An enrolment, its exams and its certificates are counted at the enrolment's unit, or at the learner's own unit
(`User.primary_organisation`) when the enrolment has none (self-enrolment).

How the counts stay right: saving or deleting a membership, enrolment, exam paper, certificate or a learner's
sex, birth date or unit *touches* the cells it belongs to (its old and new ones): a `StatDirty` row written in the
same transaction, so a change that rolls back touches nothing. A periodic task (`regulator.drain_statistics`,
every STATISTICS_DRAIN_SECONDS; inline on commit where there is no task broker) recounts each touched cell once
from the source records, under a per-cell lock, after the changes that touched it committed: a busy unit is
recounted once per drain, not once per change, and writers never wait on each other for it. A recount is exact
whatever happened before; the nightly rebuild recomputes every cell from scratch and `manage.py
rebuild_statistics --check` reports any cell that differs from the records. Bulk inserts that bypass the model
signals (`seed_scale`) end with a rebuild.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, ExtractYear, TruncMonth
from django.utils import timezone

from safetrain.regulator.models import StatCount, StatDirty, StatMetric, StatRollup

# A cell: (family, unit id, first day of the month or None). A family is the set of metrics one recount computes.
Cell = tuple[str, int, dt.date | None]
FAMILIES: dict[str, tuple[str, ...]] = {
    "learner": (StatMetric.LEARNERS,),
    "enrol": (StatMetric.ENROLMENTS,),
    "exam": (StatMetric.EXAMS_PASSED, StatMetric.EXAMS_FAILED),
    "cert": (StatMetric.CERTIFICATES, StatMetric.REVOKED),
}
# A row of the cube: (unit id, metric, month, sex, birth year, n).
Row = tuple[int, str, dt.date | None, str, int | None, int]

_GLOBAL_LOCK = 0x5354_4154_5321  # "STATS!": the rebuild holds it exclusively, every recount shares it


def month_of(day: dt.date | dt.datetime | None) -> dt.date | None:
    if day is None:
        return None
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# Reading the source records ----------------------------------------------------------------------------------


def _month_range(field: str, month: dt.date, *, aware: bool = False) -> Q:
    start, end = month, next_month(month)
    if aware:
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(start, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(end, dt.time(), tzinfo=tz)
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def _attributed(prefix: str, unit_id: int) -> list[Q]:
    """The two ways a record belongs to a unit: its enrolment's unit, or, for an enrolment without one, the
    learner's own unit. Two queries rather than one OR across a join, so each can use its index."""
    return [
        Q(**{f"{prefix}organisation_id": unit_id}),
        Q(**{f"{prefix}organisation__isnull": True, f"{prefix}learner__primary_organisation_id": unit_id}),
    ]


def _homes(unit_id: int | None = None) -> QuerySet:
    """Learners annotated with their home unit, where they count as registered: their own unit
    (`primary_organisation`) when they are an active learner there, else their first active learner unit. Each
    person counts once, however many units they are a learner of. With `unit_id`: the learners at home there."""
    from safetrain.accounts.models import Membership, Role, User

    active = Membership.objects.filter(role=Role.LEARNER, is_active=True)
    people = User.objects.all()
    if unit_id is not None:
        people = people.filter(pk__in=active.filter(organisation_id=unit_id).values("user_id"))
    home = Case(
        When(
            Exists(
                active.filter(user_id=OuterRef("pk"), organisation_id=OuterRef("primary_organisation_id"))
            ),
            then=F("primary_organisation_id"),
        ),
        default=Subquery(
            active.filter(user_id=OuterRef("pk")).order_by("organisation_id").values("organisation_id")[:1]
        ),
        output_field=BigIntegerField(),
    )
    people = people.annotate(home=home).filter(home__isnull=False)
    return people.filter(home=unit_id) if unit_id is not None else people


def _source_rows(family: str, unit_id: int | None = None, month: dt.date | None = None) -> Iterator[Row]:
    """The cube's rows of one family, for one cell (unit and month) or, without them, for every unit."""
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate, CertificateKind
    from safetrain.learning.models import Enrolment, EnrolmentStatus

    if family == "learner":
        for r in (
            _homes(unit_id)
            .values(u=F("home"), s=F("sex"), y=ExtractYear("birth_date"))
            .annotate(n=Count("pk"))
        ):
            yield r["u"], StatMetric.LEARNERS, None, r["s"] or "", r["y"], r["n"]
        return
    if family == "enrol":
        base = Enrolment.objects.exclude(status=EnrolmentStatus.VOID)
        prefix, learner, day, aware = "", "learner", "opened_on", False
    elif family == "exam":
        base = ExamAttempt.objects.filter(kind=AttemptKind.EXAM, submitted_at__isnull=False)
        prefix, learner, day, aware = "enrolment__", "enrolment__learner", "submitted_at", True
    else:
        base = Certificate.objects.filter(kind=CertificateKind.CERTIFICATE)  # not the hour proofs beside them
        prefix, learner, day, aware = "enrolment__", "enrolment__learner", "issued_on", False
    if unit_id is None:
        parts = [
            base.annotate(
                u=Coalesce(f"{prefix}organisation_id", f"{prefix}learner__primary_organisation_id"),
                m=TruncMonth(day),
            ).filter(u__isnull=False)
        ]
    elif month is None:
        return
    else:
        parts = [
            base.filter(condition, _month_range(day, month, aware=aware)).annotate(
                u=F(f"{prefix}organisation_id") if i == 0 else F(f"{prefix}learner__primary_organisation_id"),
                m=TruncMonth(day),
            )
            for i, condition in enumerate(_attributed(prefix, unit_id))
        ]
    if family == "enrol":
        split: list[tuple[str, Q | None]] = [(StatMetric.ENROLMENTS, None)]
    elif family == "exam":
        split = [(StatMetric.EXAMS_PASSED, Q(passed=True)), (StatMetric.EXAMS_FAILED, ~Q(passed=True))]
    else:
        split = [
            (StatMetric.CERTIFICATES, Q(revoked_at__isnull=True)),
            (StatMetric.REVOKED, Q(revoked_at__isnull=False)),
        ]
    counted: dict[tuple, int] = defaultdict(int)
    for qs in parts:
        values = qs.values(
            "u", "m", s=F(f"{learner}__sex"), y=ExtractYear(f"{learner}__birth_date")
        ).annotate(**{f"n{i}": Count("pk", filter=condition) for i, (_metric, condition) in enumerate(split)})
        for r in values.order_by():
            for i, (metric, _condition) in enumerate(split):
                if r[f"n{i}"]:
                    counted[(r["u"], metric, month_of(r["m"]), r["s"] or "", r["y"])] += r[f"n{i}"]
    for (u, metric, m, s, y), n in counted.items():
        yield u, metric, m, s, y, n


def _rollup(rows: Iterable[Row]) -> dict[tuple[int, str, dt.date | None], int]:
    summed: dict[tuple[int, str, dt.date | None], int] = defaultdict(int)
    for unit, metric, month, _sex, _year, n in rows:
        summed[(unit, metric, month)] += n
    return summed


def _write(rows: list[Row]) -> None:
    StatCount.objects.bulk_create(
        [StatCount(unit_id=u, metric=m, month=mo, sex=s, birth_year=y, n=n) for u, m, mo, s, y, n in rows],
        batch_size=5000,
    )
    StatRollup.objects.bulk_create(
        [StatRollup(unit_id=u, metric=m, month=mo, n=n) for (u, m, mo), n in _rollup(rows).items()],
        batch_size=5000,
    )


# Locks ---------------------------------------------------------------------------------------------------------


def _lock_all(*, shared: bool) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            cursor.execute(f"SELECT {fn}(%s)", [_GLOBAL_LOCK])


def _lock_drain() -> bool:
    """One drain at a time (PostgreSQL; SQLite serialises writers anyway). False: another one is running."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_GLOBAL_LOCK + 1])
        return bool(cursor.fetchone()[0])


def _lock_cell(cell: Cell) -> None:
    """Recounts of one cell run one after the other: the second reads the records after the first committed.
    (SQLite serialises every write anyway.)"""
    if connection.vendor == "postgresql":
        family, unit_id, month = cell
        key = zlib.crc32(f"{family}:{month}".encode()) & 0x7FFFFFFF
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [key, unit_id & 0x7FFFFFFF])


# Recounting --------------------------------------------------------------------------------------------------


def _order(cell: Cell) -> tuple:
    return cell[0], cell[1], cell[2] or dt.date.min


def recount(cells: Iterable[Cell]) -> int:
    """Recount the cells from the source records (each under its lock). Returns how many."""
    from safetrain.orgs.models import Organisation

    done = 0
    for cell in sorted(set(cells), key=_order):
        family, unit_id, month = cell
        if unit_id is None or family not in FAMILIES:
            continue
        with transaction.atomic():
            _lock_all(shared=True)
            _lock_cell(cell)
            metrics = FAMILIES[family]
            StatCount.objects.filter(unit_id=unit_id, metric__in=metrics, month=month).delete()
            StatRollup.objects.filter(unit_id=unit_id, metric__in=metrics, month=month).delete()
            if Organisation.objects.filter(pk=unit_id).exists():
                _write(list(_source_rows(family, unit_id, month)) if family == "learner" or month else [])
        done += 1
    return done


def rebuild() -> int:
    """Recompute every cell from the source records in one transaction (nightly, and after bulk loads).
    Returns the number of cube rows."""
    with transaction.atomic():
        _lock_all(shared=False)
        rows = [row for family in FAMILIES for row in _source_rows(family)]
        StatCount.objects.all().delete()
        StatRollup.objects.all().delete()
        _write(rows)
    return len(rows)


def differences(limit: int = 50) -> list[str]:
    """Cells whose stored count differs from the source records (empty when the cube is right)."""
    fresh = {(u, m, mo, s, y): n for family in FAMILIES for u, m, mo, s, y, n in _source_rows(family)}
    stored: dict[tuple, int] = defaultdict(int)
    for r in StatCount.objects.values_list("unit_id", "metric", "month", "sex", "birth_year", "n"):
        stored[r[:5]] += r[5]
    found = []
    for key in sorted(set(fresh) | set(stored), key=str):
        if fresh.get(key, 0) != stored.get(key, 0):
            found.append(f"{key}: stored {stored.get(key, 0)}, records {fresh.get(key, 0)}")
    rolled = _rollup((*k, n) for k, n in fresh.items())
    stored_rollup: dict[tuple, int] = defaultdict(int)
    for r in StatRollup.objects.values_list("unit_id", "metric", "month", "n"):
        stored_rollup[r[:3]] += r[3]
    for key in sorted(set(rolled) | set(stored_rollup), key=str):
        if rolled.get(key, 0) != stored_rollup.get(key, 0):
            found.append(f"rollup {key}: stored {stored_rollup.get(key, 0)}, records {rolled.get(key, 0)}")
    return found[:limit]


# Touching cells when records change ---------------------------------------------------------------------------


def touch(cells: Iterable[Cell]) -> None:
    """Mark cells to recount: rows of `StatDirty` in the current transaction (gone if it rolls back). The drain
    (`drain()`, every few seconds) recounts them; without a task broker (the local demo) it runs as this
    transaction commits."""
    new = sorted({c for c in cells if c[1] is not None}, key=_order)
    if not new:
        return
    StatDirty.objects.bulk_create([StatDirty(family=f, unit_id=u, month=m) for f, u, m in new])
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(drain)


def drain(limit: int = 5000) -> int:
    """Recount the touched cells, each once, and forget them; in one transaction, so that a failure leaves them
    to the next drain. Only one drain runs at a time. Returns the number of cells recounted."""
    with transaction.atomic():
        if not _lock_drain():
            return 0
        rows = list(StatDirty.objects.order_by("pk").values_list("pk", "family", "unit_id", "month")[:limit])
        if not rows:
            return 0
        done = recount({(family, unit, month) for _pk, family, unit, month in rows})
        StatDirty.objects.filter(pk__in=[r[0] for r in rows]).delete()
    return done


def pending() -> int:
    return StatDirty.objects.count()


def learner_cells(user_id: int, *, units: Iterable[int | None] = ()) -> set[Cell]:
    """Every cell a learner's records are in (for a change of sex, birth date or own unit). `units`: units the
    learner's enrolments without one were counted at before the change."""
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment

    cells = home_cells(user_id)
    extra = [u for u in units if u is not None]
    own = own_unit(user_id)
    for org, opened in Enrolment.objects.filter(learner_id=user_id).values_list(
        "organisation_id", "opened_on"
    ):
        for unit in [org] if org else [own, *extra]:
            cells.add(("enrol", unit, month_of(opened)))
    for org, at in ExamAttempt.objects.filter(
        enrolment__learner_id=user_id, kind=AttemptKind.EXAM, submitted_at__isnull=False
    ).values_list("enrolment__organisation_id", "submitted_at"):
        for unit in [org] if org else [own, *extra]:
            cells.add(("exam", unit, month_of(at)))
    for org, issued in Certificate.objects.filter(enrolment__learner_id=user_id).values_list(
        "enrolment__organisation_id", "issued_on"
    ):
        for unit in [org] if org else [own, *extra]:
            cells.add(("cert", unit, month_of(issued)))
    return {c for c in cells if c[1] is not None}


def home_cells(user_id: int) -> set[Cell]:
    """The registered-learner cells a change of the user's memberships or own unit can move them between."""
    from safetrain.accounts.models import Membership

    units = set(Membership.objects.filter(user_id=user_id).values_list("organisation_id", flat=True))
    units.add(own_unit(user_id))
    return {("learner", u, None) for u in units if u is not None}


def touch_memberships(memberships: QuerySet) -> None:
    """For code that changes memberships with `update()` (no signal): call it before the update."""
    cells: set[Cell] = set()
    for user_id in set(memberships.values_list("user_id", flat=True)):
        cells |= home_cells(user_id)
    touch(cells)


def own_unit(user_id: int) -> int | None:
    from safetrain.accounts.models import User

    return User.objects.filter(pk=user_id).values_list("primary_organisation_id", flat=True).first()


def enrolment_unit(enrolment: Any) -> int | None:
    """The unit an enrolment (and its exams and certificates) is counted at."""
    return enrolment.organisation_id or own_unit(enrolment.learner_id)


def enrolment_cells(enrolment: Any, *, unit: int | None = None) -> set[Cell]:
    """The exam and certificate cells of one enrolment (when its unit changes), at `unit` or its own."""
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate

    unit = unit if unit is not None else enrolment_unit(enrolment)
    cells: set[Cell] = {("enrol", unit, month_of(enrolment.opened_on))} if unit else set()
    for at in ExamAttempt.objects.filter(
        enrolment_id=enrolment.pk, kind=AttemptKind.EXAM, submitted_at__isnull=False
    ).values_list("submitted_at", flat=True):
        cells.add(("exam", unit, month_of(at)))
    for issued in Certificate.objects.filter(enrolment_id=enrolment.pk).values_list("issued_on", flat=True):
        cells.add(("cert", unit, month_of(issued)))
    return {c for c in cells if c[1] is not None}


def touch_enrolment(enrolment: Any) -> None:
    """For code that changes an enrolment with `update()` (no signal): recount its cells after the commit."""
    touch(enrolment_cells(enrolment))


def fill_if_empty(using: str = "default", **kwargs: Any) -> bool:
    """After `migrate`: build the cube when it is empty but there are learners (the upgrade that added it)."""
    from safetrain.accounts.models import Membership, Role

    if StatCount.objects.using(using).exists():
        return False
    if not Membership.objects.using(using).filter(role=Role.LEARNER).exists():
        return False
    rebuild()
    return True
