"""Sealing, checking and archiving the study and exam records (REC-02, REC-04).

Records are appended without a lock (a heartbeat never waits for a chain). Every minute `seal_all` covers the
records written since the last seal with a `RecordSeal`: the SHA-256 (SM3 with CHAIN_HASH=sm3) over the records'
canonical text in id order, chained to the seal before it under the chain key. `verify_records` recomputes every seal from the rows online, or from the archive file
the rows were moved to, and walks the seal chain, so an edited, removed or inserted record is found.

After `RECORD_ONLINE_MONTHS` the records of whole seals move to an offline archive file (gzip of JSON lines, with
its SHA-256 kept in `ArchiveFile`) and leave the database; the file is kept for `RECORD_ARCHIVE_MONTHS`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.utils import timezone

from safetrain.core import chainhash
from safetrain.core.dates import add_months
from safetrain.records.models import ArchiveFile, ChainHead, RecordSeal, RetentionGate
from safetrain.records.services import chain_append, verify_chain


@dataclass(frozen=True)
class Source:
    name: str
    model: str  # app_label.ModelName
    time_field: str
    fields: tuple[str, ...]

    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)


SOURCES = {
    "study": Source(
        "study",
        "learning.StudyRecord",
        "at",
        (
            "at",
            "learner_id",
            "enrolment_id",
            "lesson_id",
            "session_id",
            "kind",
            "seq",
            "position",
            "credited_seconds",
            "accepted",
            "reasons",
            "ip",
            "user_agent",
        ),
    ),
    "exam": Source(
        "exam",
        "assessment.ExamRecord",
        "at",
        (
            "at",
            "attempt_id",
            "enrolment_id",
            "learner_id",
            "kind",
            "number",
            "started_at",
            "submitted_at",
            "submitted_by",
            "score",
            "total",
            "passed",
            "answers",
            "paper_digest",
            "ip",
        ),
    ),
    "offline_test": Source(
        "offline_test",
        "assessment.OfflineTestResult",
        "entered_at",
        (
            "enrolment_id",
            "paper_id",
            "sitting",
            "score",
            "passed",
            "corrects_id",
            "reason",
            "entered_by_id",
            "entered_at",
        ),
    ),
}


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def row_values(source: Source, row: Any) -> dict[str, Any]:
    """A record as plain JSON values: what the seal covers and what an archive file holds."""
    return {"id": row.pk, **{name: _value(getattr(row, name)) for name in source.fields}}


def canonical(values: dict[str, Any]) -> bytes:
    return (
        json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()
        + b"\n"
    )


def digest_of(lines: Iterable[bytes], digest: str = "sha256") -> tuple[str, int]:
    """The digest (`sha256` or `sm3`) over records' canonical lines, and how many there were."""
    hasher = chainhash.new_digest(digest)
    count = 0
    for line in lines:
        hasher.update(line)
        count += 1
    return hasher.hexdigest(), count


def _online_lines(source: Source, first_id: int, last_id: int) -> Iterator[bytes]:
    rows = source.model_class().objects.filter(pk__gte=first_id, pk__lte=last_id).order_by("pk")
    for row in rows.iterator(chunk_size=2000):
        yield canonical(row_values(source, row))


def watermark(source: Source) -> int:
    """The highest record id up to which nothing can still appear: every record at or below it is committed (or
    rolled back for good). On PostgreSQL ids are taken before commit, so a SHARE lock first waits for the
    transactions still inserting (a heartbeat's few milliseconds) and holds off new ones for an instant. SQLite
    writes one transaction at a time, so what is visible is all there is below the highest id."""
    model = source.model_class()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{model._meta.db_table}" IN SHARE MODE')
        return model.objects.aggregate(top=models.Max("pk"))["top"] or 0


def seal_new(source: Source, *, batch: int = 5000, now: dt.datetime | None = None) -> int:
    """Seal the records of `source` after the last seal, up to `batch` of them. Seals cover contiguous id ranges
    from 1, so every record with an id at or below the last seal belongs to exactly one seal. Returns rows sealed."""
    now = now or timezone.now()
    mark = watermark(source)
    with transaction.atomic():
        # Hold the seal chain's head first: two sealing runs at once must not seal the same records twice.
        head, _created = ChainHead.objects.get_or_create(name=RecordSeal.chain_name)
        ChainHead.objects.select_for_update().get(pk=head.pk)
        last = (
            RecordSeal.objects.filter(source=source.name)
            .order_by("-last_id")
            .values_list("last_id", flat=True)
            .first()
        ) or 0
        if mark <= last:
            return 0
        model = source.model_class()
        taken = list(model.objects.filter(pk__gt=last, pk__lte=mark).order_by("pk")[:batch])
        if not taken:
            return 0
        digest, count = digest_of(
            (canonical(row_values(source, row)) for row in taken),
            chainhash.digest_name(chainhash.written_alg()),  # the seal's own algorithm, set by chain_append
        )
        chain_append(
            RecordSeal(
                source=source.name,
                first_id=last + 1,
                # Ids after the last record up to the watermark were rolled back: the seal covers them too.
                last_id=taken[-1].pk if count == batch else mark,
                count=count,
                digest=digest,
                sealed_at=now,
            )
        )
        return count


def seal_all(**kwargs: Any) -> dict[str, int]:
    sealed = {}
    for source in SOURCES.values():
        total = 0
        while True:
            count = seal_new(source, **kwargs)
            total += count
            if not count:
                break
        sealed[source.name] = total
    return sealed


# Checking -----------------------------------------------------------------------------------------------------


@dataclass
class RecordsReport:
    ok: bool = True
    seals: int = 0
    rows: int = 0
    archived_rows: int = 0
    unsealed: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checkpoint: str = ""


def _archive_lines(archive: ArchiveFile) -> dict[int, bytes]:
    with default_storage.open(archive.name, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != archive.sha256:
        raise ValueError(f"archive {archive.name}: checksum does not match")
    lines = gzip.decompress(data).splitlines(keepends=True)
    return {json.loads(line)["id"]: line for line in lines[1:]}  # line 0 is the header


def verify_records(*, as_of: dt.datetime | None = None) -> RecordsReport:
    """Walk the seal chain (and compare it with its newest checkpoint, see `verify_chain`) and recompute every
    seal from its records, online or in their archive file."""
    report = RecordsReport()
    chain = verify_chain(RecordSeal, as_of=as_of)
    report.checkpoint = chain.checkpoint
    if not chain.ok:
        report.ok = False
        report.problems.append(f"seal chain broken at seal {chain.broken_seq}: {chain.reason}")
    archives = list(ArchiveFile.objects.all())
    archive_cache: dict[int, list[tuple[int, bytes]]] = {}
    previous_last: dict[str, int] = {}
    for seal in RecordSeal.objects.order_by("seq").iterator(chunk_size=500):
        source = SOURCES.get(seal.source)
        report.seals += 1
        if source is None:
            report.ok = False
            report.problems.append(f"seal {seal.seq}: unknown source {seal.source}")
            continue
        try:
            digest_name = chainhash.digest_name(seal.hash_alg)
        except ValueError as exc:
            report.ok = False
            report.problems.append(f"seal {seal.seq}: {exc}")
            continue
        if seal.first_id != previous_last.get(seal.source, 0) + 1:
            report.ok = False
            report.problems.append(
                f"seal {seal.seq} ({seal.source}) starts at {seal.first_id}, not right after the previous seal"
            )
        previous_last[seal.source] = seal.last_id
        archive = next(
            (
                a
                for a in archives
                if a.source == seal.source and a.first_id <= seal.first_id and seal.last_id <= a.last_id
            ),
            None,
        )
        if archive is not None:
            if archive.pk not in archive_cache:
                try:
                    archive_cache[archive.pk] = sorted(_archive_lines(archive).items())
                except (OSError, ValueError) as exc:
                    report.ok = False
                    report.problems.append(f"seal {seal.seq}: {exc}")
                    archive_cache[archive.pk] = []
                    continue
            lines = archive_cache[archive.pk]
            digest, count = digest_of(
                (line for pk, line in lines if seal.first_id <= pk <= seal.last_id), digest_name
            )
            report.archived_rows += count
            online = source.model_class().objects.filter(pk__gte=seal.first_id, pk__lte=seal.last_id).count()
            if online:
                report.ok = False
                report.problems.append(
                    f"seal {seal.seq} ({seal.source} {seal.first_id}-{seal.last_id}) is archived in {archive.name}, "
                    f"but {online} records of its range are in the database (inserted after archiving)"
                )
        else:
            digest, count = digest_of(_online_lines(source, seal.first_id, seal.last_id), digest_name)
            report.rows += count
        if count != seal.count:
            report.ok = False
            report.problems.append(
                f"seal {seal.seq} ({seal.source} {seal.first_id}-{seal.last_id}): {count} records, the seal says "
                f"{seal.count} (records removed or inserted)"
            )
        elif digest != seal.digest:
            report.ok = False
            report.problems.append(
                f"seal {seal.seq} ({seal.source} {seal.first_id}-{seal.last_id}): content does not match the seal "
                "(a record was altered)"
            )
    for source in SOURCES.values():
        last = (
            RecordSeal.objects.filter(source=source.name)
            .order_by("-last_id")
            .values_list("last_id", flat=True)
            .first()
        )
        report.unsealed[source.name] = source.model_class().objects.filter(pk__gt=last or 0).count()
    return report


# Retention ----------------------------------------------------------------------------------------------------


def _months_ago(months: int, now: dt.datetime) -> dt.datetime:
    day = add_months(timezone.localdate(now), -months)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class RetentionPlan:
    source: str
    seals: list[RecordSeal]
    rows: int

    @property
    def first_id(self) -> int:
        return self.seals[0].first_id

    @property
    def last_id(self) -> int:
        return self.seals[-1].last_id


def retention_plan(source_name: str = "study", *, now: dt.datetime | None = None) -> RetentionPlan | None:
    """What would move: the sealed records of `source` entirely older than RECORD_ONLINE_MONTHS, whole seals only,
    not yet archived."""
    now = now or timezone.now()
    source = SOURCES[source_name]
    cutoff = _months_ago(settings.RECORD_ONLINE_MONTHS, now)
    archived_to = (
        ArchiveFile.objects.filter(source=source_name)
        .order_by("-last_id")
        .values_list("last_id", flat=True)
        .first()
        or 0
    )
    model = source.model_class()
    seals = []
    for seal in RecordSeal.objects.filter(source=source_name, first_id__gt=archived_to).order_by("first_id"):
        newest = (
            model.objects.filter(pk__gte=seal.first_id, pk__lte=seal.last_id)
            .order_by(f"-{source.time_field}")
            .values_list(source.time_field, flat=True)
            .first()
        )
        if newest is None or newest >= cutoff:
            break
        seals.append(seal)
    if not seals:
        return None
    return RetentionPlan(source_name, seals, sum(s.count for s in seals))


def archive_old_records(
    source_name: str = "study", *, dry_run: bool = False, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Move the records of `retention_plan` to an archive file and out of the database, in one transaction: the
    file is written and checked first, the rows are deleted only if it reads back exactly. Dry run: report only."""
    now = now or timezone.now()
    plan = retention_plan(source_name, now=now)
    if plan is None:
        return {"source": source_name, "rows": 0, "file": None, "dry_run": dry_run}
    summary = {
        "source": source_name,
        "rows": plan.rows,
        "first_id": plan.first_id,
        "last_id": plan.last_id,
        "dry_run": dry_run,
    }
    if dry_run:
        summary["seals"] = len(plan.seals)
        return summary
    source = SOURCES[source_name]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        header = {
            "source": source_name,
            "model": source.model,
            "fields": ["id", *source.fields],
            "seals": [
                {"seq": s.seq, "first_id": s.first_id, "last_id": s.last_id, "digest": s.digest}
                for s in plan.seals
            ],
            "created_at": now.isoformat(),
        }
        gz.write(canonical(header))
        for line in _online_lines(source, plan.first_id, plan.last_id):
            gz.write(line)
    data = buffer.getvalue()
    checksum = hashlib.sha256(data).hexdigest()
    name = f"archives/{source_name}/{source_name}-{plan.first_id:012d}-{plan.last_id:012d}.jsonl.gz"
    stored = default_storage.save(name, ContentFile(data))
    try:
        with transaction.atomic():
            archive = ArchiveFile.objects.create(
                source=source_name,
                name=stored,
                sha256=checksum,
                rows=plan.rows,
                first_id=plan.first_id,
                last_id=plan.last_id,
                created_at=now,
                keep_until=add_months(timezone.localdate(now), settings.RECORD_ARCHIVE_MONTHS),
            )
            lines = _archive_lines(archive)  # read back and checked before anything is deleted
            for seal in plan.seals:
                digest, count = digest_of(
                    (line for pk, line in sorted(lines.items()) if seal.first_id <= pk <= seal.last_id),
                    chainhash.digest_name(seal.hash_alg),
                )
                if (digest, count) != (seal.digest, seal.count):
                    raise RuntimeError(
                        f"archive {stored} does not reproduce seal {seal.seq}; nothing was deleted"
                    )
            table = source.model_class()._meta.db_table
            gate = RetentionGate.objects.create(table_name=table)
            with connection.cursor() as cursor:
                cursor.execute(
                    f'DELETE FROM "{table}" WHERE id >= %s AND id <= %s', [plan.first_id, plan.last_id]
                )
                deleted = cursor.rowcount
            gate.delete()
            if deleted != plan.rows:
                raise RuntimeError(
                    f"expected to move {plan.rows} records, found {deleted}; nothing was deleted"
                )
    except Exception:
        default_storage.delete(stored)  # nothing was deleted: no orphan file either
        raise
    summary["file"] = stored
    summary["sha256"] = checksum
    return summary
