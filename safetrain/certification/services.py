"""Issuing, verifying and revoking certificates (CERT-01..05).

A certificate is issued by the platform as soon as the programme's rules are met: every required course complete
(lessons watched and their quizzes passed), the required and public-course minutes, the exam passed where the
programme has one, the offline share attended and the offline total test passed where the region requires them.
Where the programme has an offline part, a training-hour proof (学时证明, CERT-03) is issued jointly by the learner's
unit and the platform once the online exam and the offline test both scored 80 or more.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.models import User
from safetrain.accounts.services import normalise_phone
from safetrain.assessment import offline
from safetrain.assessment.models import AttemptKind, ExamAttempt, PaperRule
from safetrain.certification import signing
from safetrain.certification.models import Certificate, CertificateKind, CertificateState, Mailing
from safetrain.core.dates import add_months
from safetrain.core.errors import DomainError, NotFound
from safetrain.core.http import client_ip
from safetrain.learning.models import Enrolment, EnrolmentStatus, ReviewDecision, SuspicionReview
from safetrain.learning.selectors import enrolment_overview
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log

logger = logging.getLogger(__name__)

NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed without confusion
HOUR_PROOF_MARK = Decimal(80)
SWEEP_BATCH = 500
SWEEP_CURSOR = "certification:sweep-cursor"


def new_number(kind: str, today: dt.date) -> str:
    """16 characters: ST (certificate) or XS (hour proof), the year, 12 random symbols (60 bits): unguessable."""
    prefix = "ST" if kind == CertificateKind.CERTIFICATE else "XS"
    return f"{prefix}{today:%y}" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(12))


def has_exam(enrolment: Enrolment) -> bool:
    programme = enrolment.programme
    return (
        bool(programme.profile.exam_preset)
        or PaperRule.objects.filter(programme=programme, is_active=True).exists()
    )


def best_exam(enrolment: Enrolment) -> ExamAttempt | None:
    return (
        ExamAttempt.objects.filter(enrolment=enrolment, kind=AttemptKind.EXAM, passed=True)
        .order_by("-score", "submitted_at")
        .first()
    )


def problems(enrolment: Enrolment, overview: list[dict[str, Any]] | None = None) -> list[str]:
    """What the learner still lacks for the certificate, in words (empty: it can be issued)."""
    if SuspicionReview.objects.filter(enrolment=enrolment, decision=ReviewDecision.CONFIRMED).exists():
        return [_("Cheating was confirmed in this programme: no certificate can be issued.")]
    if enrolment.status != EnrolmentStatus.ACTIVE:
        return [_("The enrolment is not active (its deadline has passed or it was cancelled).")]
    if overview is None or not any(r["id"] == enrolment.pk for r in overview):
        # Past its deadline the enrolment takes no more study, but what was done by then (and a retake of the
        # offline test) still earns the certificate.
        overview = enrolment_overview(enrolment.learner, enrolments=[enrolment])
    # The theory the offline test needs (the exam's study rules and the offline share), then the certificate's own.
    found = offline.theory_problems(enrolment, overview)
    row = next(r for r in overview if r["id"] == enrolment.pk)
    unfinished = [c["title"] for c in row["courses"] if c["is_required"] and not c["completed"]]
    if unfinished or not row["courses"]:
        found.append(_("Courses not complete: %(courses)s.") % {"courses": "、".join(unfinished) or "—"})
    if has_exam(enrolment) and best_exam(enrolment) is None:
        found.append(_("The exam is not passed yet."))
    if not offline.passed(enrolment):
        found.append(_("The offline total test is not passed yet."))
    return found


def _has_offline_part(enrolment: Enrolment) -> bool:
    return enrolment.programme.offline_minutes_required() > 0 or offline.required(enrolment.programme)


def _exam_percent(attempt: ExamAttempt | None) -> Decimal | None:
    if attempt is None or attempt.score is None or not attempt.total:
        return None
    return (attempt.score * 100 / attempt.total).quantize(Decimal("0.1"))


def _create(enrolment: Enrolment, kind: str, **fields: Any) -> Certificate:
    learner = enrolment.learner
    programme = enrolment.programme
    today = timezone.localdate()
    for _try in range(5):
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    number=new_number(kind, today),
                    kind=kind,
                    enrolment=enrolment,
                    learner=learner,
                    programme=programme,
                    holder_name=learner.name,
                    holder_id_masked=learner.masked_id_number,
                    programme_name=programme.name,
                    category=programme.get_audience_display(),
                    issued_on=today,
                    **fields,
                )
        except IntegrityError:
            if Certificate.objects.filter(enrolment=enrolment, kind=kind).exists():
                return Certificate.objects.get(enrolment=enrolment, kind=kind)
            continue  # a number collision (60 random bits): draw again
        audit_log(
            action=f"certificate.issue.{kind}",
            obj=certificate,
            organisation_id=enrolment.organisation_id or learner.primary_organisation_id,
            detail={"number": certificate.number, "programme": programme.code, "enrolment": enrolment.pk},
        )
        return certificate
    raise RuntimeError("could not find a free certificate number")


def issue_due(enrolment: Enrolment) -> list[Certificate]:
    """Issue what the enrolment has earned and does not have yet; returns the new documents. Safe to call any
    number of times, from any process (one certificate of each kind per enrolment)."""
    issued: list[Certificate] = []
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("learner", "programme__profile", "organisation")
            .get(pk=enrolment.pk)
        )
        have = set(Certificate.objects.filter(enrolment=enrolment).values_list("kind", flat=True))
        if CertificateKind.CERTIFICATE in have and (
            CertificateKind.HOUR_PROOF in have or not _has_offline_part(enrolment)
        ):
            return issued
        if problems(enrolment):
            return issued
        programme = enrolment.programme
        row = enrolment_overview(enrolment.learner, enrolments=[enrolment])[0]
        exam = best_exam(enrolment)
        offline_result = offline.status(enrolment).results
        offline_score = max((r.score for r in offline_result.values() if r.passed), default=None)
        offline_minutes = offline.offline_minutes(enrolment)
        online_minutes = int(row["credited_minutes"])
        common = {
            "online_minutes": online_minutes,
            "offline_minutes": offline_minutes,
            "exam_score": exam.score if exam else None,
            "offline_score": offline_score,
            "issuer": settings.PLATFORM_NAME,
        }
        if CertificateKind.CERTIFICATE not in have:
            months = programme.setting("certificate_validity_months")
            issued.append(
                _create(
                    enrolment,
                    CertificateKind.CERTIFICATE,
                    class_hours=programme.required_class_hours,
                    valid_until=add_months(timezone.localdate(), months) - dt.timedelta(days=1)
                    if months
                    else None,
                    **common,
                )
            )
        exam_percent = _exam_percent(exam)
        if (
            CertificateKind.HOUR_PROOF not in have
            and _has_offline_part(enrolment)
            and (exam_percent is None or exam_percent >= HOUR_PROOF_MARK)
            and (offline_score is None or offline_score >= HOUR_PROOF_MARK)
        ):
            unit = enrolment.organisation or enrolment.learner.primary_organisation
            minutes = Decimal(online_minutes + offline_minutes)
            issued.append(
                _create(
                    enrolment,
                    CertificateKind.HOUR_PROOF,
                    class_hours=(minutes / programme.setting("class_hour_minutes")).quantize(Decimal("0.1")),
                    joint_issuer=unit.name if unit else "",
                    valid_until=None,
                    **common,
                )
            )
    return issued


def issue_sweep() -> int:
    """The periodic catch-up (Celery beat): enrolments with a passed exam, or in programmes without an exam, that
    still lack a document. Issuing on exam submission and score entry covers the usual case at once."""
    count = 0
    no_exam = Q(programme__profile__exam_preset="") & ~Q(programme__paper_rules__is_active=True)
    passed = Q(exam_attempts__kind=AttemptKind.EXAM, exam_attempts__passed=True)
    cursor = cache.get(SWEEP_CURSOR, 0)
    candidates = list(
        Enrolment.objects.active()
        .exclude(certificates__kind=CertificateKind.CERTIFICATE)
        .exclude(reviews__decision=ReviewDecision.CONFIRMED)
        .filter(no_exam | passed, pk__gt=cursor)
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")[:SWEEP_BATCH]
    )
    for pk in candidates:
        count += len(issue_due(Enrolment.objects.get(pk=pk)))
    # Walk on from here next time (and start over at the end), so enrolments that cannot be issued yet never
    # keep the others from being reached.
    cache.set(SWEEP_CURSOR, candidates[-1] if len(candidates) == SWEEP_BATCH else 0, None)
    return count


def issue_after_commit(enrolment_id: int) -> None:
    """Called by the exam and offline-test services: issue once their transaction has committed."""

    def run() -> None:
        try:
            issue_due(Enrolment.objects.get(pk=enrolment_id))
        except Exception:  # the result is saved; the periodic sweep issues the certificate later
            logger.exception("certificate issue failed for enrolment %s", enrolment_id)

    transaction.on_commit(run)


def revoke_for_enrolment(*, enrolment: Enrolment, reason: str, actor: Any = None) -> int:
    """CERT-05: every document of the enrolment's programme is revoked with the reason and the date."""
    now = timezone.now()
    count = 0
    for certificate in Certificate.objects.select_for_update().filter(
        enrolment=enrolment, revoked_at__isnull=True
    ):
        certificate.revoked_at = now
        certificate.revoked_reason = reason[:200]
        certificate.save(update_fields=["revoked_at", "revoked_reason"])
        audit_log(
            action="certificate.revoke",
            actor=actor,
            obj=certificate,
            detail={"number": certificate.number, "reason": reason[:200]},
        )
        count += 1
    return count


# Verification ------------------------------------------------------------------------------------------------


def payload(certificate: Certificate) -> dict[str, Any]:
    """What the QR signs: enough to check a paper certificate offline, and only masked personal data."""
    return {
        "n": certificate.number,
        "t": "c" if certificate.kind == CertificateKind.CERTIFICATE else "h",
        "nm": certificate.holder_name_masked,
        "id": certificate.holder_id_masked,
        "p": certificate.programme_name,
        "h": str(certificate.class_hours),
        "i": certificate.issued_on.isoformat(),
        "v": certificate.valid_until.isoformat() if certificate.valid_until else "",
        "kid": signing.key_id(),
    }


def qr_text(certificate: Certificate) -> str:
    return signing.qr_text(certificate.number, payload(certificate))


def rate_limited(request: HttpRequest, scope: str = "verify") -> bool:
    """Public look-ups per address and minute (VERIFY_RATE_PER_MINUTE): True when over the limit."""
    window = int(timezone.now().timestamp() // 60)
    key = f"rate:{scope}:{client_ip(request)}:{window}"
    if cache.add(key, 1, 70):
        return False
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 70)
        return False
    return count > settings.VERIFY_RATE_PER_MINUTE


def normalise_number(text: str) -> str:
    """As typed: full-width characters of a Chinese input method, lower case, spaces and dashes are all fine."""
    text = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())[:32]


def verification(number: str) -> dict[str, Any]:
    """The public answer for a number (CERT-04): state, masked holder, programme and dates; nothing else (nothing
    here is decrypted: the name's masked copy has a column of its own)."""
    number = normalise_number(number)
    certificate = (
        Certificate.objects.defer("holder_name").filter(number=number).first() if len(number) >= 8 else None
    )
    if certificate is None:
        raise NotFound(
            "certificate_not_found", _("No certificate has this number. Check the number and try again.")
        )
    state = certificate.state
    return {
        "number": certificate.number,
        "kind": certificate.kind,
        "kind_display": str(CertificateKind(certificate.kind).label),
        "state": state,
        "state_display": str(CertificateState(state).label),
        "holder": certificate.holder_name_masked,
        "id_number": certificate.holder_id_masked,
        "programme": certificate.programme_name,
        "category": certificate.category,
        "class_hours": str(certificate.class_hours),
        "class_hours_text": certificate.hours_text,
        "issued_on": certificate.issued_on.isoformat(),
        "valid_until": certificate.valid_until.isoformat() if certificate.valid_until else None,
        "revoked_on": timezone.localtime(certificate.revoked_at).date().isoformat()
        if certificate.revoked_at
        else None,
        "issuer": certificate.issuer,
        "joint_issuer": certificate.joint_issuer,
    }


def check_signed(number: str, token: str) -> dict[str, Any]:
    """The QR's signature checked against the platform key and against the record of that number."""
    payload_, valid, problem = signing.check_token(token)
    matches = False
    if valid and payload_.get("n") == normalise_number(number):
        certificate = Certificate.objects.defer("holder_name").filter(number=payload_["n"]).first()
        matches = certificate is not None and payload(certificate) | {"kid": payload_.get("kid")} == payload_
    return {
        "signature_valid": valid and payload_.get("n") == normalise_number(number),
        "matches_record": matches,
        "problem": problem,
    }


def my_certificates(learner: Any) -> list[Certificate]:
    return list(
        Certificate.objects.filter(learner=learner).select_related("programme").prefetch_related("mailings")
    )


def certificate_for(user: Any, number: str) -> Certificate:
    """The learner's own document, or one of a person the user supervises (its unit's admins, the institution that
    enrolled it, the regulators of its region); anything else is "not found"."""
    certificate = (
        Certificate.objects.select_related("learner", "programme", "enrolment")
        .filter(number=normalise_number(number))
        .first()
    )
    if certificate is None:
        raise NotFound("certificate_not_found", _("No certificate has this number."))
    if certificate.learner_id == user.pk or user.sees_everything():
        return certificate
    if User.objects.visible_to(user).filter(pk=certificate.learner_id).exists():
        return certificate
    enrolled_by = certificate.enrolment.organisation_id
    if enrolled_by and Organisation.objects.supervised_by(user).filter(pk=enrolled_by).exists():
        return certificate
    raise NotFound("certificate_not_found", _("No certificate has this number."))


# Paper certificates by courier (CERT-07) -----------------------------------------------------------------------


def mailing_record(
    *,
    certificate: Certificate,
    recipient: str,
    phone: str,
    address: str,
    courier: str,
    tracking_number: str,
    sent_on: dt.date,
    actor: Any = None,
) -> Mailing:
    """Record that the paper certificate went out: to whom, where, with which courier and tracking number."""
    fields = {"recipient": recipient, "address": address, "courier": courier}
    for name, value in fields.items():
        if not (value or "").strip():
            raise DomainError("field_required", _("Fill in the recipient, address and courier."), field=name)
    tracking = "".join((tracking_number or "").split()).upper()
    if not re.fullmatch(r"[A-Z0-9-]{6,30}", tracking):
        raise DomainError(
            "invalid_tracking_number",
            _("A tracking number has 6 to 30 letters and digits, as printed on the waybill."),
            field="tracking_number",
        )
    if sent_on > timezone.localdate():
        raise DomainError(
            "future_date", _("Record the mailing on or after the day it was sent."), field="sent_on"
        )
    if certificate.state == CertificateState.REVOKED:
        raise DomainError("revoked", _("This certificate is revoked and must not be mailed."))
    if Mailing.objects.filter(courier=courier.strip(), tracking_number=tracking).exists():
        raise DomainError(
            "tracking_number_taken",
            _("This tracking number of %(courier)s is already recorded for another mailing.")
            % {"courier": courier.strip()},
            field="tracking_number",
        )
    phone = normalise_phone(phone)
    if not phone:
        raise DomainError("field_required", _("Give the recipient's mobile phone number."), field="phone")
    try:
        with transaction.atomic():
            mailing = _mailing_create(
                certificate, recipient, phone, address, courier, tracking, sent_on, actor
            )
    except IntegrityError:
        raise DomainError(
            "tracking_number_taken",
            _("This tracking number of %(courier)s is already recorded for another mailing.")
            % {"courier": courier.strip()},
            field="tracking_number",
        ) from None
    audit_log(
        action="certificate.mail",
        actor=actor,
        obj=certificate,
        detail={"number": certificate.number, "courier": mailing.courier, "tracking_number": tracking},
    )
    return mailing


def _mailing_create(
    certificate: Certificate,
    recipient: str,
    phone: str,
    address: str,
    courier: str,
    tracking: str,
    sent_on: dt.date,
    actor: Any,
) -> Mailing:
    return Mailing.objects.create(
        certificate=certificate,
        recipient=recipient.strip()[:60],
        phone=phone,
        address=address.strip()[:300],
        courier=courier.strip()[:40],
        tracking_number=tracking,
        sent_on=sent_on,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
