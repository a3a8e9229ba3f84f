"""Writing to and checking hash chains; the audit trail's `audit_log` (Zulip's RealmAuditLog pattern:
called inside the same transaction as the change it records)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from safetrain.core import chainhash
from safetrain.core.http import client_ip, user_agent
from safetrain.core.middleware import current_request
from safetrain.records.checkpoints import Checkpoint, CheckpointError, checkpoint_latest, checkpoint_store
from safetrain.records.models import (
    CHAIN_KEYED_ACTION,
    GENESIS_HASH,
    AuditEntry,
    AuditResult,
    ChainedRecord,
    ChainHead,
)

R = TypeVar("R", bound=ChainedRecord)


@transaction.atomic
def chain_append(record: R) -> R:
    """Give `record` the next sequence number and the keyed hash (CHAIN_HASH) of its chain and insert it."""
    head, _ = ChainHead.objects.get_or_create(name=record.chain_name)
    head = ChainHead.objects.select_for_update().get(pk=head.pk)
    record.seq = head.seq + 1
    record.prev_hash = head.hash
    record.hash_alg = chainhash.written_alg()
    record.hash = record.compute_hash()
    record.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(seq=record.seq, hash=record.hash)
    return record


def chained_models() -> list[type[ChainedRecord]]:
    """Every chain: the concrete models built on ChainedRecord."""
    models = [m for m in apps.get_models() if issubclass(m, ChainedRecord)]
    return sorted(models, key=lambda m: m.chain_name)


@dataclass(frozen=True)
class LegacyEnd:
    """The last unkeyed row of a chain (plain SHA-256, written before the chains were keyed)."""

    seq: int
    hash: str


def chain_legacy_ends() -> dict[str, LegacyEnd]:
    """Where each chain's unkeyed rows end, as the keyed audit entry written when the chains were keyed records it
    (migration 0006). Without that entry, or if it does not verify under the key, no chain may hold an unkeyed row:
    turning keyed rows back into plain SHA-256 ones (which anyone can recompute) is then found as well."""
    entry = (
        AuditEntry.objects.filter(action=CHAIN_KEYED_ACTION, hash_alg__in=chainhash.KEYED)
        .order_by("seq")
        .first()
    )
    if entry is None or entry.compute_hash() != entry.hash:
        return {}
    try:
        ends = {
            str(name): LegacyEnd(int(value["seq"]), str(value["hash"]))
            for name, value in entry.detail["chains"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}
    audit = ends.get(AuditEntry.chain_name, LegacyEnd(0, GENESIS_HASH))
    if entry.seq != audit.seq + 1 or entry.prev_hash != audit.hash:
        return {}
    return ends


class ChainBrokenError(RuntimeError):
    """A chain that does not verify: no checkpoint is signed over it."""


@dataclass(frozen=True)
class ChainReport:
    checked: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""
    checkpoint: str = ""  # the checkpoint the chain was compared with, or why none was


@dataclass(frozen=True)
class _Walk:
    checked: int
    last_seq: int
    last_hash: str
    broken_seq: int | None = None
    reason: str = ""


def _row_problem(
    row: ChainedRecord, prev_seq: int, prev_hash: str, legacy: LegacyEnd | None, seen_keyed: bool
) -> tuple[int, str] | None:
    """What is wrong with `row` following (prev_seq, prev_hash), if anything: (the broken seq, why)."""
    if row.seq != prev_seq + 1:
        return prev_seq + 1, f"row {prev_seq + 1} is missing (next is {row.seq})"
    if row.hash_alg == chainhash.LEGACY:
        if legacy is None:
            return row.seq, (
                "the row's hash is unkeyed (plain SHA-256) and no valid keyed entry records.chain_keyed says that "
                "unkeyed rows end after it: rows were rewritten without AUDIT_CHAIN_KEY"
            )
        if row.seq > legacy.seq:
            return row.seq, (
                f"the row's hash is unkeyed (plain SHA-256) after the chain was keyed at row {legacy.seq + 1}: "
                "rewritten without AUDIT_CHAIN_KEY"
            )
    elif row.hash_alg not in chainhash.KEYED:
        return row.seq, f"unknown hash algorithm {row.hash_alg!r}"
    if row.prev_hash != prev_hash:
        return row.seq, "previous-hash link does not match the row before"
    if row.compute_hash() != row.hash:
        hint = ""
        if row.is_keyed and not seen_keyed:
            hint = " (or AUDIT_CHAIN_KEY is not the key this chain was written with)"
        return row.seq, f"content does not match its hash (row was altered){hint}"
    if legacy is not None and row.seq == legacy.seq and row.hash != legacy.hash:
        return row.seq, "the last unkeyed row does not carry the hash recorded when the chain was keyed"
    return None


def _walk(
    model: type[ChainedRecord],
    *,
    after: tuple[int, str] = (0, GENESIS_HASH),
    until: int | None = None,
    legacy: LegacyEnd | None = None,
) -> _Walk:
    """Check the rows after `after` (seq, hash) up to `until`: numbering, links, hashes, and that only the rows
    before the chain was keyed are unkeyed."""
    prev_seq, prev_hash = after
    rows = model.objects.filter(seq__gt=prev_seq)  # type: ignore[attr-defined]
    if until is not None:
        rows = rows.filter(seq__lte=until)
    checked = 0
    seen_keyed = False
    for row in rows.order_by("seq").iterator(chunk_size=2000):
        problem = _row_problem(row, prev_seq, prev_hash, legacy, seen_keyed)
        if problem:
            return _Walk(checked, prev_seq, prev_hash, *problem)
        seen_keyed = seen_keyed or row.is_keyed
        prev_seq, prev_hash = row.seq, row.hash
        checked += 1
    return _Walk(checked, prev_seq, prev_hash)


def _compare(model: type[ChainedRecord], checkpoint: Checkpoint) -> tuple[int, str] | None:
    """The chain against a checkpoint of it: the checkpointed row still there with its hash, nothing cut off."""
    row = model.objects.filter(seq=checkpoint.seq).first()  # type: ignore[attr-defined]
    if row is None:
        last = model.objects.order_by("-seq").values_list("seq", flat=True).first() or 0  # type: ignore[attr-defined]
        return checkpoint.seq, (
            f"the chain ends at row {last}, but checkpoint {checkpoint.describe()} holds row {checkpoint.seq}: "
            "rows were cut off (on a restored older copy, give its time with --as-of)"
        )
    if row.hash != checkpoint.hash:
        return checkpoint.seq, (
            f"row {checkpoint.seq} does not carry the hash of checkpoint {checkpoint.describe()}: the chain was "
            "rewritten"
        )
    count = model.objects.filter(seq__lte=checkpoint.seq).count()  # type: ignore[attr-defined]
    if count != checkpoint.count:
        return checkpoint.seq, (
            f"{count} rows up to row {checkpoint.seq}, checkpoint {checkpoint.describe()} counted {checkpoint.count}"
        )
    return None


def verify_chain(
    model: type[ChainedRecord], *, as_of: dt.datetime | None = None, checkpoints: bool = True
) -> ChainReport:
    """Walk a chain from the start; report the first broken link (edited, missing or inserted row, unkeyed row
    where the chain is keyed, cut tail), then compare it with its newest signed checkpoint (the newest taken at or
    before `as_of`, for a copy restored to that moment)."""
    walk = _walk(model, legacy=chain_legacy_ends().get(model.chain_name))
    problems: list[tuple[int | None, str]] = []
    if walk.reason:
        problems.append((walk.broken_seq, walk.reason))
    else:
        head = ChainHead.objects.filter(name=model.chain_name).first()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        if head_seq != walk.checked or head_hash != walk.last_hash:
            problems.append((walk.checked + 1, f"chain ends at {walk.checked} but its head says {head_seq}"))
    used = ""
    if checkpoints:
        when = f" taken at or before {as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if as_of else ""
        try:
            checkpoint = checkpoint_latest(model.chain_name, as_of=as_of)
        except CheckpointError as exc:
            problems.append((None, str(exc)))
            used = "checkpoint error"
        else:
            if checkpoint is None:
                used = f"no checkpoint{when} yet"
            else:
                used = f"checkpoint {checkpoint.describe()}" + (f", the newest{when}" if as_of else "")
                mismatch = _compare(model, checkpoint)
                if mismatch:
                    problems.append(mismatch)
    if not problems:
        return ChainReport(walk.checked, True, checkpoint=used)
    broken_seq = next((seq for seq, _ in problems if seq is not None), None)
    return ChainReport(walk.checked, False, broken_seq, "; ".join(r for _, r in problems), checkpoint=used)


def checkpoint_write(model: type[ChainedRecord], *, now: dt.datetime | None = None) -> Checkpoint | None:
    """Sign the head of `model`'s chain into a checkpoint in storage, after checking the rows added since the
    previous checkpoint (and that one's row), so a checkpoint never vouches for a broken chain. None: empty chain.
    Raises ChainBrokenError, or CheckpointError when the previous checkpoint cannot be trusted."""
    previous = checkpoint_latest(model.chain_name)
    head = ChainHead.objects.filter(name=model.chain_name).first()
    if head is None or head.seq == 0:
        if previous is not None:
            raise ChainBrokenError(
                f"{model.chain_name}: the chain is empty, its checkpoint {previous.describe()} is not"
            )
        return None
    after = (0, GENESIS_HASH)
    if previous is not None:
        mismatch = _compare(model, previous)
        if mismatch:
            raise ChainBrokenError(f"{model.chain_name}: {mismatch[1]}")
        after = (previous.seq, previous.hash)
    walk = _walk(model, after=after, until=head.seq, legacy=chain_legacy_ends().get(model.chain_name))
    if walk.reason:
        raise ChainBrokenError(f"{model.chain_name}: broken at row {walk.broken_seq}: {walk.reason}")
    if (walk.last_seq, walk.last_hash) != (head.seq, head.hash):
        raise ChainBrokenError(
            f"{model.chain_name}: the chain ends at {walk.last_seq} but its head says {head.seq}"
        )
    row = model.objects.get(seq=head.seq)  # type: ignore[attr-defined]
    return checkpoint_store(
        Checkpoint(
            chain=model.chain_name,
            seq=head.seq,
            row_id=row.pk,
            hash=head.hash,
            hash_alg=row.hash_alg,
            count=model.objects.filter(seq__lte=head.seq).count(),  # type: ignore[attr-defined]
            # Taken after the head was read: every row it covers was committed before this moment.
            at=now or timezone.now(),
        )
    )


@dataclass
class CheckpointRun:
    written: dict[str, str]  # chain -> the checkpoint's storage name, or "empty"
    failures: list[str]


def checkpoints_write_all() -> CheckpointRun:
    """A checkpoint of every chain; a chain that fails is reported, the others are still checkpointed."""
    run = CheckpointRun({}, [])
    for model in chained_models():
        try:
            checkpoint = checkpoint_write(model)
        except (ChainBrokenError, CheckpointError) as exc:
            run.failures.append(str(exc))
            continue
        run.written[model.chain_name] = checkpoint.name if checkpoint else "empty"
    return run


def _label(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    return actor.audit_label() if hasattr(actor, "audit_label") else str(actor.pk)


def audit_log(
    *,
    action: str,
    result: str = AuditResult.SUCCESS,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    organisation_id: int | None = None,
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one audit entry: time, user, IP, user agent, action, object, result.

    Call it inside the service's transaction so the entry and the change commit (or roll back) together.
    `detail` must never hold secrets or plain personal data (ID numbers, phones): give ids or masked values.
    """
    request = request or current_request.get()
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if getattr(user, "is_authenticated", False) else None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if organisation_id is None and obj is not None:
        # File the entry under the organisation the object belongs to (a person's unit, the organisation
        # itself), so the regulators of that region see it, whoever the actor was.
        organisation_id = getattr(obj, "audit_organisation_id", None)
    if organisation_id is None and actor is not None:
        organisation_id = getattr(actor, "primary_organisation_id", None)
    entry = AuditEntry(
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_label(actor),
        organisation_id=organisation_id,
        ip=client_ip(request),
        user_agent=user_agent(request),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        result=str(result),
        detail=detail or {},
    )
    return chain_append(entry)
