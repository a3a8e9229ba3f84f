"""Writing to and checking hash chains; the audit trail's `audit_log` (Zulip's RealmAuditLog pattern:
called inside the same transaction as the change it records)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from safetrain.core.http import client_ip, user_agent
from safetrain.core.middleware import current_request
from safetrain.records.models import GENESIS_HASH, AuditEntry, AuditResult, ChainedRecord, ChainHead

R = TypeVar("R", bound=ChainedRecord)


@transaction.atomic
def chain_append(record: R) -> R:
    """Give `record` the next sequence number and hashes of its chain and insert it."""
    head, _ = ChainHead.objects.get_or_create(name=record.chain_name)
    head = ChainHead.objects.select_for_update().get(pk=head.pk)
    record.seq = head.seq + 1
    record.prev_hash = head.hash
    record.hash = record.compute_hash()
    record.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(seq=record.seq, hash=record.hash)
    return record


@dataclass(frozen=True)
class ChainReport:
    checked: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""


def _rows(model: type[ChainedRecord]) -> Iterator[ChainedRecord]:
    return model.objects.order_by("seq").iterator(chunk_size=2000)  # type: ignore[attr-defined]


def verify_chain(model: type[ChainedRecord]) -> ChainReport:
    """Walk a chain from the start; report the first broken link (edited, missing or inserted row, cut tail)."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in _rows(model):
        if row.seq != expected_seq:
            return ChainReport(
                checked, False, expected_seq, f"row {expected_seq} is missing (next is {row.seq})"
            )
        if row.prev_hash != prev_hash:
            return ChainReport(checked, False, row.seq, "previous-hash link does not match the row before")
        if row.compute_hash() != row.hash:
            return ChainReport(checked, False, row.seq, "content does not match its hash (row was altered)")
        prev_hash = row.hash
        expected_seq += 1
        checked += 1
    head = ChainHead.objects.filter(name=model.chain_name).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != checked or head_hash != prev_hash:
        return ChainReport(
            checked, False, checked + 1, f"chain ends at {checked} but its head says {head_seq}"
        )
    return ChainReport(checked, True)


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
