"""Institution registration (网络培训机构备案登记, ORG-04, REG-03; seeds/004 二 and the platform commitment 一).

- An institution's admin applies in a city's module with the signed commitment letter (附件2, a PDF or a photo)
  and the institution's details.
- The regulator of that city (its own module: not a district's, not another city's) approves, which gives a
  registration number and puts the institution on the city's public list, or rejects with a reason.
- The public list is in registration order and says so: the platform never ranks institutions.
- The city regulator may suspend (off the public list), reinstate or cancel a registration; the institution may
  withdraw it. Every step is kept with who, when and why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.orgs.models import Organisation, OrganisationKind, Region, RegionLevel
from safetrain.records.services import audit_log
from safetrain.regulator.models import (
    LIVE_STATES,
    InstitutionRegistration,
    RegistrationEvent,
    RegistrationState,
)

COMMITMENT_MAX_MB = 10
# What a scanned or photographed signed letter is: PDF, JPEG, PNG (checked by their first bytes, not the name).
COMMITMENT_TYPES = {b"%PDF-": "pdf", b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
COMMITMENT_CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}


def cities() -> QuerySet[Region]:
    return Region.objects.filter(level=RegionLevel.CITY)


def regulated_cities(user: Any) -> QuerySet[Region]:
    """The cities whose module the user runs: a regulator of exactly that city (REG-03)."""
    if not getattr(user, "is_authenticated", False):
        return Region.objects.none()
    ids = [
        m.organisation.region_id
        for m in user.active_memberships()
        if m.role == "regulator" and m.organisation.region.level == RegionLevel.CITY
    ]
    return Region.objects.filter(pk__in=ids)


def supervised_registrations(user: Any) -> QuerySet[InstitutionRegistration]:
    """What a regulator sees: the registrations of the cities in its region (a province sees all its cities, a
    city its own, a district none: institutions register with the city); operators see all."""
    qs = InstitutionRegistration.objects.select_related("institution", "city")
    if getattr(user, "is_authenticated", False) and user.sees_everything():
        return qs
    regions = [m.organisation.region for m in user.active_memberships() if m.role == "regulator"]
    if not regions:
        return qs.none()
    condition = Q(pk__in=[])
    for region in regions:
        condition |= Q(city__path__startswith=region.path)
    return qs.filter(condition)


def _event(registration: InstitutionRegistration, action: str, actor: Any, reason: str = "") -> None:
    RegistrationEvent.objects.create(
        registration=registration,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        at=timezone.now(),
        reason=reason,
    )
    audit_log(
        action=f"regulator.registration_{action}",
        actor=actor,
        obj=registration,
        organisation_id=registration.institution_id,
        detail={"city": registration.city.code, "reason": reason},
    )


def check_commitment(upload: UploadedFile) -> bytes:
    if upload is None:
        raise DomainError(
            "commitment_required",
            _("Upload the signed and stamped commitment letter (附件2) as a PDF or a photo."),
            field="commitment",
        )
    if upload.size > COMMITMENT_MAX_MB * 1024 * 1024:
        raise DomainError(
            "commitment_too_large",
            _("The commitment letter may be at most %(mb)d MB.") % {"mb": COMMITMENT_MAX_MB},
            field="commitment",
        )
    data = upload.read()
    if commitment_type(data) is None:
        raise DomainError(
            "commitment_type",
            _(
                "The commitment letter must be a PDF, JPEG or PNG file (a scan or a photo of the signed letter)."
            ),
            field="commitment",
        )
    return data


def commitment_type(data: bytes) -> str | None:
    """The letter's type by its content (never by the name the uploader gave it)."""
    return next((ext for magic, ext in COMMITMENT_TYPES.items() if data.startswith(magic)), None)


def registration_apply(
    *, institution: Organisation, city: Region, commitment: UploadedFile, details: dict[str, str], actor: Any
) -> InstitutionRegistration:
    if institution.kind != OrganisationKind.INSTITUTION:
        raise DomainError("not_an_institution", _("Only training institutions register here."))
    if (
        actor is not None
        and not Organisation.objects.administered_by(actor).filter(pk=institution.pk).exists()
    ):
        raise PermissionDenied("forbidden", _("Only the institution's own admins apply for it."))
    if city.level != RegionLevel.CITY:
        raise DomainError("not_a_city", _("Choose the city whose module you register in."), field="city")
    values = {}
    for key, label in (
        ("legal_representative", _("legal representative")),
        ("address", _("office address")),
        ("contact_name", _("contact person")),
        ("contact_phone", _("contact phone")),
        ("scope", _("training offered")),
    ):
        value = " ".join((details.get(key) or "").split())
        if not value:
            raise DomainError("field_required", _("Fill in the %(field)s.") % {"field": label}, field=key)
        values[key] = value
    data = check_commitment(commitment)
    registration = InstitutionRegistration(
        institution=institution,
        city=city,
        commitment_sha256=hashlib.sha256(data).hexdigest(),
        submitted_by=actor if getattr(actor, "pk", None) else None,
        submitted_at=timezone.now(),
        **values,
    )
    # Stored under a name of our own with the detected type: a file named .html could otherwise be served as a page.
    registration.commitment.save(
        f"{registration.commitment_sha256[:32]}.{commitment_type(data)}", ContentFile(data), save=False
    )
    try:
        with transaction.atomic():
            registration.save()
            _event(registration, "apply", actor)
    except IntegrityError as error:
        registration.commitment.storage.delete(registration.commitment.name)
        raise DomainError(
            "already_registered",
            _("%(name)s already has an application or a registration in %(city)s.")
            % {"name": institution.name, "city": city.name},
        ) from error
    return registration


def _check_city_regulator(actor: Any, registration: InstitutionRegistration) -> None:
    if not regulated_cities(actor).filter(pk=registration.city_id).exists():
        raise PermissionDenied(
            "forbidden",
            _("Only the regulator of %(city)s decides in its module.") % {"city": registration.city.name},
        )


def _locked(registration: InstitutionRegistration) -> InstitutionRegistration:
    return (
        InstitutionRegistration.objects.select_for_update()
        .select_related("city", "institution")
        .get(pk=registration.pk)
    )


def _number(registration: InstitutionRegistration) -> str:
    """The next number of the city for the year; the city's row is locked meanwhile (two approvals at once wait)."""
    Region.objects.select_for_update().filter(pk=registration.city_id).first()
    year = timezone.localdate().year
    count = InstitutionRegistration.objects.filter(
        city=registration.city, number__startswith=f"{registration.city.code}-{year}-"
    ).count()
    return f"{registration.city.code}-{year}-{count + 1:04d}"


def registration_decide(
    *, registration: InstitutionRegistration, approve: bool, reason: str = "", actor: Any
) -> InstitutionRegistration:
    _check_city_regulator(actor, registration)
    reason = (reason or "").strip()
    with transaction.atomic():
        registration = _locked(registration)
        if registration.state != RegistrationState.SUBMITTED:
            raise DomainError("already_decided", _("This application has been decided already."))
        if not approve and not reason:
            raise DomainError(
                "reason_required",
                _("Say why the application is rejected: the institution reads it."),
                field="reason",
            )
        now = timezone.now()
        registration.state = RegistrationState.APPROVED if approve else RegistrationState.REJECTED
        registration.decided_by, registration.decided_at, registration.reason = actor, now, reason
        if approve:
            registration.registered_at = now
            registration.number = _number(registration)
        registration.save()
        _event(registration, "approve" if approve else "reject", actor, reason)
    return registration


def registration_change(
    *, registration: InstitutionRegistration, action: str, reason: str, actor: Any
) -> InstitutionRegistration:
    """The regulator suspends, reinstates or cancels a registration; the institution withdraws its own (always
    with a reason, kept in the history)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "reason_required", _("Give the reason: it is kept with the registration."), field="reason"
        )
    allowed = {
        "suspend": ((RegistrationState.APPROVED,), RegistrationState.SUSPENDED),
        "reinstate": ((RegistrationState.SUSPENDED,), RegistrationState.APPROVED),
        "cancel": ((RegistrationState.APPROVED, RegistrationState.SUSPENDED), RegistrationState.CANCELLED),
        "withdraw": (LIVE_STATES, RegistrationState.WITHDRAWN),
    }
    if action not in allowed:
        raise DomainError("invalid_action", _("Unknown action."))
    if action == "withdraw":
        if not Organisation.objects.administered_by(actor).filter(pk=registration.institution_id).exists():
            raise PermissionDenied(
                "forbidden", _("Only the institution's own admins withdraw its registration.")
            )
    else:
        _check_city_regulator(actor, registration)
    with transaction.atomic():
        registration = _locked(registration)
        states, target = allowed[action]
        if registration.state not in states:
            raise DomainError(
                "invalid_state",
                _("This cannot be done while the registration is “%(state)s”.")
                % {"state": registration.get_state_display()},
            )
        registration.state = target
        registration.decided_by, registration.decided_at, registration.reason = actor, timezone.now(), reason
        registration.save(update_fields=["state", "decided_by", "decided_at", "reason"])
        _event(registration, action, actor, reason)
    return registration


def public_list(city: Region) -> QuerySet[InstitutionRegistration]:
    """The city's registered institutions, in registration order (never a ranking)."""
    return (
        InstitutionRegistration.objects.filter(city=city, state=RegistrationState.APPROVED)
        .select_related("institution")
        .order_by("registered_at", "pk")
    )
