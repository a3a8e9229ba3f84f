"""The pre-aggregated statistics behind the regulator dashboard (REG-01), kept up to date incrementally.

`StatCount` holds, per training unit, metric and month, how many records there are for each sex and year of birth
of the learners; `StatRollup` the same summed over sex and year of birth. A dashboard reads a few thousand of these
rows instead of joining every learner, enrolment, exam and certificate of its region.

What is counted, and where:

- `learner`: the unit's active learner memberships now (no month). A worker who is a learner of two units counts
  once in each.
- `enrol`: enrolments (参训人次) by the month they were opened, void ones left out.
- `pass` / `fail`: submitted exam papers by the local month they were submitted, passed or not.
- `cert` / `revoked`: certificates by the month they were issued, in force or revoked since.

An enrolment, its exams and its certificates are counted at the enrolment's unit, or at the learner's own unit
(`User.primary_organisation`) when the enrolment has none (self-enrolment).

How the counts stay right: saving or deleting a membership, enrolment, exam paper, certificate or a learner's
sex, birth date or unit *touches* the cells it belongs to (its old and new ones). When the transaction commits, the
touched cells are recounted from the source records (a Celery task, inline where there is no broker), one cell at
a time under a lock, so that two changes committing together cannot leave a count short. A recount is exact
whatever happened before; the nightly rebuild recomputes every cell from scratch and `manage.py
rebuild_statistics --check` reports any cell that differs from the records. Bulk inserts that bypass the model
signals (`seed_scale`) end with a rebuild.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce, ExtractYear, TruncMonth
from django.utils import timezone

from safetrain.regulator.models import StatCount, StatMetric, StatRollup

log = logging.getLogger(__name__)

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
_pending = threading.local()


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


def _source_rows(family: str, unit_id: int | None = None, month: dt.date | None = None) -> Iterator[Row]:
    """The cube's rows of one family, for one cell (unit and month) or, without them, for every unit."""
    from safetrain.accounts.models import Membership, Role
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment, EnrolmentStatus

    if family == "learner":
        qs = Membership.objects.filter(role=Role.LEARNER, is_active=True)
        if unit_id is not None:
            qs = qs.filter(organisation_id=unit_id)
        for r in qs.values(
            u=F("organisation_id"), s=F("user__sex"), y=ExtractYear("user__birth_date")
        ).annotate(n=Count("pk")):
            yield r["u"], StatMetric.LEARNERS, None, r["s"] or "", r["y"], r["n"]
        return
    if family == "enrol":
        base = Enrolment.objects.exclude(status=EnrolmentStatus.VOID)
        prefix, learner, day, aware = "", "learner", "opened_on", False
    elif family == "exam":
        base = ExamAttempt.objects.filter(kind=AttemptKind.EXAM, submitted_at__isnull=False)
        prefix, learner, day, aware = "enrolment__", "enrolment__learner", "submitted_at", True
    else:
        base = Certificate.objects.all()
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


def _lock_cell(cell: Cell) -> None:
    """Recounts of one cell run one after the other: the second reads the records after the first committed.
    (SQLite serialises every write anyway.)"""
    if connection.vendor == "postgresql":
        family, unit_id, month = cell
        key = zlib.crc32(f"{family}:{month}".encode()) & 0x7FFFFFFF
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [key, unit_id & 0x7FFFFFFF])


# Recounting --------------------------------------------------------------------------------------------------


def recount(cells: Iterable[Cell]) -> int:
    """Recount the cells from the source records; each in its own short transaction. Returns how many."""
    from safetrain.orgs.models import Organisation

    done = 0
    for cell in sorted(set(cells), key=lambda c: (c[0], c[1], c[2] or dt.date.min)):
        family, unit_id, month = cell
        if unit_id is None or family not in FAMILIES:
            continue
        with transaction.atomic():
            _lock_all(shared=True)
            _lock_cell(cell)
            if not Organisation.objects.filter(pk=unit_id).exists():
                continue
            rows = list(_source_rows(family, unit_id, month)) if family == "learner" or month else []
            metrics = FAMILIES[family]
            StatCount.objects.filter(unit_id=unit_id, metric__in=metrics, month=month).delete()
            StatRollup.objects.filter(unit_id=unit_id, metric__in=metrics, month=month).delete()
            _write(rows)
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
    """Mark cells to recount once the current transaction commits (at once outside a transaction)."""
    pending = _pending_set()
    new = {c for c in cells if c[1] is not None}
    if not new:
        return
    pending.update(new)
    # One callback per touch: a callback registered in a savepoint that rolls back is dropped, and the next
    # touch's callback then flushes what is pending. A flush that finds nothing pending does nothing.
    transaction.on_commit(flush)


def _pending_set() -> set[Cell]:
    if not hasattr(_pending, "cells"):
        _pending.cells = set()
    return _pending.cells


def flush() -> None:
    """Queue the recount of every pending cell now (after a commit; tests call it for the cells their fixtures
    touched inside the test transaction, which never commits)."""
    pending = _pending_set()
    if not pending:
        return
    cells = sorted(pending, key=lambda c: (c[0], c[1], c[2] or dt.date.min))
    pending.clear()
    from safetrain.regulator.tasks import recount_statistics

    try:
        recount_statistics.delay([[f, u, m.isoformat() if m else None] for f, u, m in cells])
    except Exception:  # the change itself is committed; the nightly rebuild repairs the counts
        log.exception("statistics recount of %d cells failed", len(cells))


def learner_cells(user_id: int, *, units: Iterable[int | None] = ()) -> set[Cell]:
    """Every cell a learner's records are in (for a change of sex, birth date or own unit). `units`: units the
    learner's enrolments without one were counted at before the change."""
    from safetrain.accounts.models import Membership
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment

    cells: set[Cell] = {
        ("learner", org, None)
        for org in Membership.objects.filter(user_id=user_id).values_list("organisation_id", flat=True)
    }
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
