"""Data exchange with the provincial supervision platform (省级监管平台, INT-01; S3 五, GD-C 14, GD#27).

Push: enrolments (with the learner), study progress, exam results and certificates are collected into an outbox
(`OutboundRecord`, one row per version of a record: an unchanged record is never queued twice; its payload is
encrypted at rest and cleared once delivered) and delivered one by one:

    POST {SUPERVISION_URL}/api/v1/records/{kind}
    body  {"platform": SUPERVISION_PLATFORM_CODE, "kind", "id": "<kind>:<pk>", "version": <sha256 of data>,
           "sent_at", "data": {...}}
    X-Platform: the platform code; X-Key-Id: the platform key's id; X-Signature-Algorithm: Ed25519 or SM2-SM3;
    X-Signature: base64 signature of the exact body bytes with the platform's exchange key
                 (SUPERVISION_SIGNING_KEY, not the certificates' key; its public half is registered there;
                 `manage.py supervision_key` prints it). SUPERVISION_SIGNATURE=sm2 signs with SM2 over SM3
                 (GB/T 32918.2, signer ID 1234567812345678, r||s) instead of Ed25519.

The receiver answers 200 (stored) or 409 (that id and version already stored): both count as delivered. A 5xx,
a 429 or no answer is retried with exponential back-off (30 s, 1 min, 2 min … at most 6 h, ten attempts); any
other 4xx (a refused signature, a rejected record) fails at once and waits for an operator. Every attempt is in
the delivery log (`DeliveryAttempt`). Outside DEBUG the URL must be HTTPS (a loopback address excepted): a plain
http:// URL fails the deploy check and nothing is sent over it.

Without SUPERVISION_URL nothing is collected or queued, and the delivery task discards what an earlier setting left
undelivered (see `outbox_discard`).

Pull: GET {SUPERVISION_URL}/api/v1/revocations?since=<cursor>&nonce=<random> answers {"since", "nonce",
"generated_at", "items": [{"certificate_number", "reason", "revoked_at"}], "cursor"}, signed by the province
(X-Signature over the body, checked with SUPERVISION_PUBLIC_KEY, of the same algorithm). A response is refused whole when its signature
does not verify, when the `since` and `nonce` it signed are not those of this request (a replayed answer), or when
it was generated more than SUPERVISION_MAX_AGE_SECONDS from now; otherwise the certificates named are revoked
with the province's reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from safetrain.integrations import sm2
from safetrain.integrations.models import DeliveryAttempt, ExchangeCursor, OutboundRecord, OutboundState
from safetrain.records.services import audit_log

logger = logging.getLogger(__name__)

KINDS = ("enrolment", "study", "exam", "certificate")
MAX_ATTEMPTS = 10
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 6 * 3600
OVERLAP = dt.timedelta(minutes=2)  # collectors re-read a little: the version makes it harmless


class ExchangeRefused(Exception):
    """The exchange is configured so that it must not run (a plain http:// URL in production)."""


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str).encode()


def version_of(data: dict[str, Any]) -> str:
    return hashlib.sha256(_json(data)).hexdigest()


# Collecting ---------------------------------------------------------------------------------------------------


def _learner(user: Any) -> dict[str, Any]:
    return {
        "id_type": user.id_type,
        "id_number": user.id_number,
        "name": user.name,
        "sex": user.sex,
        "birth_date": user.birth_date.isoformat() if user.birth_date else None,
    }


def enrolment_data(enrolment: Any) -> dict[str, Any]:
    unit = enrolment.organisation
    return {
        "learner": _learner(enrolment.learner),
        "programme": {"code": enrolment.programme.code, "name": enrolment.programme.name},
        "unit": {"name": unit.name, "uscc": unit.uscc} if unit else None,
        "job_type": enrolment.job_type.code if enrolment.job_type else None,
        "opened_on": enrolment.opened_on.isoformat(),
        "deadline": enrolment.deadline.isoformat() if enrolment.deadline else None,
        "status": enrolment.status,
    }


def study_data(enrolment: Any, state: Any) -> dict[str, Any]:
    """`state`: the enrolment's `learning.selectors.completion` (read for many enrolments at once)."""
    return {
        "enrolment": f"enrolment:{enrolment.pk}",
        "credited_minutes": state.credited_minutes,
        "courses": [
            {"code": c.code, "required": c.is_required, "completed": c.completed} for c in state.courses
        ],
    }


def exam_data(attempt: Any) -> dict[str, Any]:
    return {
        "enrolment": f"enrolment:{attempt.enrolment_id}",
        "number": attempt.number,
        "score": str(attempt.score) if attempt.score is not None else None,
        "total": str(attempt.total),
        "passed": attempt.passed,
        "submitted_at": attempt.submitted_at.isoformat(),
    }


def certificate_data(certificate: Any) -> dict[str, Any]:
    return {
        "number": certificate.number,
        "kind": certificate.kind,
        "enrolment": f"enrolment:{certificate.enrolment_id}",
        "programme": certificate.programme_name,
        "class_hours": str(certificate.class_hours),
        "issued_on": certificate.issued_on.isoformat(),
        "valid_until": certificate.valid_until.isoformat() if certificate.valid_until else None,
        "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
        "revoked_reason": certificate.revoked_reason,
    }


def configured() -> bool:
    """A supervision platform to exchange with is configured (SUPERVISION_URL)."""
    return bool(settings.SUPERVISION_URL)


def enqueue(kind: str, pk: int, data: dict[str, Any]) -> bool:
    """Queue this version of the record; False when that very version is queued or delivered already, or when no
    supervision platform is configured (personal data is never kept for a platform that may never exist)."""
    if not configured():
        return False
    version = version_of(data)
    record_id = str(pk)
    latest = (
        OutboundRecord.objects.filter(kind=kind, record_id=record_id)
        .exclude(state=OutboundState.DISCARDED)
        .order_by("-pk")
        .only("pk", "version")
        .first()
    )
    if latest is not None and latest.version == version:
        return False  # the newest version queued or sent is this one (A -> B -> A sends A again)
    with transaction.atomic():
        # An older version still waiting would arrive after this one: it is dropped, this one supersedes it.
        OutboundRecord.objects.filter(kind=kind, record_id=record_id, state=OutboundState.PENDING).update(
            state=OutboundState.SUPERSEDED, payload=None
        )
        OutboundRecord.objects.create(
            kind=kind, record_id=record_id, version=version, payload=data, next_attempt_at=timezone.now()
        )
    return True


def _changed(kind: str, since: dt.datetime | None) -> Iterable[tuple[int, dict[str, Any]]]:
    from safetrain.assessment.models import AttemptKind, ExamAttempt
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment, LessonProgress

    after = (since - OVERLAP) if since else None
    if kind == "enrolment":
        qs = Enrolment.objects.select_related("learner", "programme", "organisation", "job_type")
        for e in qs.filter(updated_at__gte=after) if after else qs:
            yield e.pk, enrolment_data(e)
    elif kind == "study":
        progress = LessonProgress.objects.all()
        if after:
            progress = progress.filter(updated_at__gte=after)
        from safetrain.learning.selectors import completion

        ids = list(progress.values_list("enrolment_id", flat=True).distinct())
        for start in range(0, len(ids), 500):  # completion() reads a batch in a fixed number of queries
            batch = list(
                Enrolment.objects.filter(pk__in=ids[start : start + 500]).select_related(
                    "programme", "job_type"
                )
            )
            states = completion(batch)
            for e in batch:
                yield e.pk, study_data(e, states[e.pk])
    elif kind == "exam":
        qs = ExamAttempt.objects.filter(kind=AttemptKind.EXAM, submitted_at__isnull=False)
        for a in qs.filter(submitted_at__gte=after) if after else qs:
            yield a.pk, exam_data(a)
    elif kind == "certificate":
        qs = Certificate.objects.all()
        if after:
            from django.db.models import Q

            qs = qs.filter(Q(created_at__gte=after) | Q(revoked_at__gte=after))
        for c in qs:
            yield c.pk, certificate_data(c)


def collect() -> dict[str, int]:
    """Queue what changed since the last collection, per kind. Returns how many versions were queued. Without a
    supervision platform nothing is read and the cursors stay, so a platform configured later gets everything."""
    if not configured():
        return {}
    queued = {}
    for kind in KINDS:
        cursor, _created = ExchangeCursor.objects.get_or_create(name=f"collect:{kind}")
        started = timezone.now()
        queued[kind] = sum(enqueue(kind, pk, data) for pk, data in _changed(kind, cursor.at))
        cursor.at = started
        cursor.save(update_fields=["at"])
    return queued


# Delivering ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    algorithm: str  # the X-Signature-Algorithm header: Ed25519 or SM2-SM3
    key_id: str
    public_key: str  # what the province registers: PEM (Ed25519) or hex x||y (SM2)
    sign: Callable[[bytes], bytes]


def exchange_sm2_private_key() -> str:
    """SUPERVISION_SIGNING_KEY as 64 hex digits, or a key derived from SECRET_KEY."""
    if settings.SUPERVISION_SIGNING_KEY:
        return settings.SUPERVISION_SIGNING_KEY.strip()
    seed = hashlib.blake2b(settings.SECRET_KEY.encode(), person=b"sup-exchange-sm2", digest_size=48).digest()
    return sm2.private_key_from_seed(seed)


def signer() -> Signer:
    """This platform's exchange key, of the configured algorithm (SUPERVISION_SIGNATURE)."""
    from safetrain.certification import signing

    if settings.SUPERVISION_SIGNATURE == "sm2":
        private = exchange_sm2_private_key()
        public = sm2.public_key_of(private)
        return Signer(
            "SM2-SM3",
            hashlib.sha256(bytes.fromhex(public)).hexdigest()[:8],
            public,
            lambda body: sm2.sign(private, body, public_key=public),
        )
    key = signing.exchange_private_key()
    return Signer(
        "Ed25519", signing.key_id(key.public_key()), signing.public_key_pem(key.public_key()), key.sign
    )


def province_signature_valid(body: bytes, signature_b64: str) -> bool:
    """The province's signature over `body` with SUPERVISION_PUBLIC_KEY, of the configured algorithm."""
    from safetrain.certification import signing

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    if settings.SUPERVISION_SIGNATURE == "sm2":
        return sm2.verify(settings.SUPERVISION_PUBLIC_KEY, body, signature)
    try:
        signing.load_public_key(settings.SUPERVISION_PUBLIC_KEY).verify(signature, body)
    except InvalidSignature:
        return False
    return True


def signed_body(record: OutboundRecord) -> tuple[bytes, dict[str, str]]:
    body = _json(
        {
            "platform": settings.SUPERVISION_PLATFORM_CODE,
            "kind": record.kind,
            "id": f"{record.kind}:{record.record_id}",
            "version": record.version,
            "sent_at": timezone.now().isoformat(),
            "data": record.payload,
        }
    )
    key = signer()
    return body, {
        "Content-Type": "application/json",
        "X-Platform": settings.SUPERVISION_PLATFORM_CODE,
        "X-Key-Id": key.key_id,
        "X-Signature-Algorithm": key.algorithm,
        "X-Signature": base64.b64encode(key.sign(body)).decode(),
    }


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def insecure_url(url: str) -> bool:
    """A URL the exchange must not use outside DEBUG: not HTTPS, and not this machine (the tests' receiver)."""
    parts = urlsplit(url)
    return bool(url) and parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1")


def _client() -> httpx.Client:
    if not settings.DEBUG and insecure_url(settings.SUPERVISION_URL):
        raise ExchangeRefused(
            "SUPERVISION_URL must be an https:// address: personal data is not sent in clear"
        )
    return httpx.Client(
        base_url=settings.SUPERVISION_URL.rstrip("/"), timeout=settings.SUPERVISION_TIMEOUT_SECONDS
    )


def deliver_one(record: OutboundRecord, client: httpx.Client) -> str:
    body, headers = signed_body(record)
    started = time.monotonic()
    status, error = None, ""
    try:
        response = client.post(f"/api/v1/records/{record.kind}", content=body, headers=headers)
        status = response.status_code
        if status not in (200, 409):
            error = response.text[:500]
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"[:500]
    now = timezone.now()
    DeliveryAttempt.objects.create(
        record=record,
        at=now,
        status_code=status,
        error=error,
        milliseconds=int((time.monotonic() - started) * 1000),
    )
    record.attempts += 1
    record.last_error = error
    if status in (200, 409):
        # Delivered: the personal data it carried is not kept here (the version hash stays, for idempotency).
        record.state, record.delivered_at, record.payload = OutboundState.DELIVERED, now, None
    elif status is not None and 400 <= status < 500 and status != 429:
        record.state = OutboundState.FAILED  # refused: retrying the same bytes will not help
    elif record.attempts >= MAX_ATTEMPTS:
        record.state = OutboundState.FAILED
    else:
        record.next_attempt_at = now + retry_delay(record.attempts)
    record.save(
        update_fields=["attempts", "last_error", "state", "delivered_at", "next_attempt_at", "payload"]
    )
    if record.state == OutboundState.FAILED:
        audit_log(
            action="integrations.supervision_failed",
            result="failure",
            object_type="outbound_record",
            object_id=record.pk,
            detail={"kind": record.kind, "record": record.record_id, "status": status, "error": error[:200]},
        )
    return record.state


@transaction.atomic
def outbox_discard() -> int:
    """Without a supervision platform, the records an earlier configuration (or an older release, which queued
    without one) left undelivered, waiting or failed, are discarded and their payloads cleared: they hold personal
    data for a receiver that does not exist. The collectors start over, so that a platform configured later
    receives every record in its version of that day (a version it already has is not sent again). One audit entry
    counts them per kind. Returns how many were discarded."""
    undelivered = OutboundRecord.objects.filter(state__in=[OutboundState.PENDING, OutboundState.FAILED])
    counts = dict(undelivered.order_by().values_list("kind").annotate(n=Count("pk")))
    if not counts:
        return 0
    discarded = undelivered.update(state=OutboundState.DISCARDED, payload=None)
    ExchangeCursor.objects.filter(name__startswith="collect:").update(at=None)
    audit_log(
        action="integrations.supervision_discarded",
        object_type="outbound_record",
        detail={"reason": "SUPERVISION_URL is not set", "kinds": counts, "discarded": discarded},
    )
    return discarded


def deliver_due(limit: int = 200) -> dict[str, int]:
    """Send the records that are due, oldest first (the periodic task; a record is locked while it is sent).
    Without a supervision platform, what is left undelivered is discarded instead."""
    if not configured():
        discarded = outbox_discard()
        return {OutboundState.DISCARDED.value: discarded} if discarded else {}
    counts: dict[str, int] = {}
    with _client() as client:
        for pk in OutboundRecord.objects.filter(
            state=OutboundState.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:limit]:
            with transaction.atomic():
                record = (
                    OutboundRecord.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, state=OutboundState.PENDING)
                    .first()
                )
                if record is None:
                    continue
                state = deliver_one(record, client)
            counts[state] = counts.get(state, 0) + 1
    return counts


# Pulling revocations ------------------------------------------------------------------------------------------


class RevocationsRefused(Exception):
    pass


def _check_fresh(data: Any, *, asked: str, nonce: str) -> None:
    """The signed list answers this request: the `since` and `nonce` it signed are ours, and it is recent."""
    if not isinstance(data, dict) or (str(data.get("since", "")), str(data.get("nonce", ""))) != (
        asked,
        nonce,
    ):
        raise ValueError("the signed list answers another request (since, nonce)")
    try:
        generated = dt.datetime.fromisoformat(str(data.get("generated_at", "")))
    except ValueError as error:
        raise ValueError("the signed list has no generated_at") from error
    if timezone.is_naive(generated):
        raise ValueError("generated_at has no time zone")
    age = abs((timezone.now() - generated).total_seconds())
    if age > settings.SUPERVISION_MAX_AGE_SECONDS:
        raise ValueError(f"the signed list is {int(age)} s old (a replay?)")


def pull_revocations() -> int:
    """Revoke the certificates the province revoked since the last pull. Returns how many were revoked here."""
    from safetrain.certification.models import Certificate

    if not settings.SUPERVISION_URL:
        return 0
    cursor, _created = ExchangeCursor.objects.get_or_create(name="pull:revocations")
    with _client() as client:
        nonce = secrets.token_hex(16)
        response = client.get("/api/v1/revocations", params={"since": cursor.value, "nonce": nonce})
    if response.status_code != 200:
        raise RevocationsRefused(f"HTTP {response.status_code}")
    try:
        if not province_signature_valid(response.content, response.headers.get("X-Signature", "")):
            raise InvalidSignature
        data = json.loads(response.content)
        _check_fresh(data, asked=cursor.value, nonce=nonce)
    except (InvalidSignature, ValueError) as error:
        reason = "bad signature" if isinstance(error, InvalidSignature) else str(error)[:100]
        audit_log(action="integrations.revocations_refused", result="failure", detail={"reason": reason})
        raise RevocationsRefused(f"the revocation list is refused: {reason}") from error
    revoked = 0
    with transaction.atomic():
        for item in data.get("items", []):
            certificate = (
                Certificate.objects.select_for_update()
                .filter(number=str(item.get("certificate_number", "")))
                .first()
            )
            if certificate is None or certificate.revoked_at is not None:
                continue
            certificate.revoked_at = timezone.now()
            certificate.revoked_reason = f"省级监管平台撤销：{item.get('reason', '')}"[:200]
            certificate.save(update_fields=["revoked_at", "revoked_reason"])
            audit_log(
                action="certification.revoke",
                obj=certificate,
                detail={"source": "supervision", "reason": certificate.revoked_reason},
            )
            revoked += 1
        cursor.value = str(data.get("cursor", ""))[:64]
        cursor.at = timezone.now()
        cursor.save(update_fields=["value", "at"])
    return revoked
