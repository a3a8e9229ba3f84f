"""What certification tells the exam pages below it (see safetrain.assessment.links): an enrolment's certificate."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from safetrain.certification.models import Certificate, CertificateKind


def enrolment_certificate_link(enrolment: Any) -> tuple[str, str] | None:
    """The enrolment's training certificate (else its training-hour proof) that is not revoked, as (number, PDF URL)."""
    certificates = Certificate.objects.filter(enrolment=enrolment, revoked_at__isnull=True).only(
        "number", "kind"
    )
    found = sorted(certificates, key=lambda c: c.kind != CertificateKind.CERTIFICATE)
    if not found:
        return None
    return found[0].number, reverse("certification:pdf", args=[found[0].number])


def has_certificate(user: Any) -> bool:
    """The first-visit guide's last step: a certificate that is not revoked."""
    return Certificate.objects.filter(learner=user, revoked_at__isnull=True).exists()
