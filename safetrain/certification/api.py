"""Certificates over the API: public verification (CERT-04) and the holder's own list."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from safetrain.certification import services, signing

router = Router(tags=["certificates"])


class VerificationOut(Schema):
    number: str
    kind: str
    state: str
    state_display: str
    holder: str
    id_number: str
    programme: str
    category: str
    class_hours: str
    issued_on: str
    valid_until: str | None
    revoked_on: str | None
    issuer: str
    joint_issuer: str
    signature_valid: bool | None = None
    matches_record: bool | None = None


class CertificateOut(Schema):
    number: str
    kind: str
    programme: str
    issued_on: dt.date
    valid_until: dt.date | None
    state: str
    pdf_url: str


@router.get(
    "/certificates/{number}/verify",
    auth=None,
    response={200: VerificationOut, 404: dict, 429: dict},
    summary="Verify a certificate by number (public, rate-limited); with ?s= the QR's signed token is checked too",
)
def verify(request: HttpRequest, number: str, s: str = ""):
    if services.rate_limited(request):
        return Status(
            429,
            {
                "code": "too_many_requests",
                "message": _(
                    "Too many look-ups from your address in the last minute. Wait a minute and try again."
                ),
            },
        )
    result = services.verification(number)
    if s:
        result |= services.check_signed(number, s)
    return Status(200, result)


@router.get(
    "/certificates/public-key", auth=None, response=dict, summary="The platform's certificate signing key"
)
def public_key(request: HttpRequest):
    return {"algorithm": "Ed25519", "key_id": signing.key_id(), "pem": signing.public_key_pem()}


@router.get("/certificates", response=list[CertificateOut], summary="My certificates and hour proofs")
def mine(request: HttpRequest):
    return [
        {
            "number": c.number,
            "kind": c.kind,
            "programme": c.programme_name,
            "issued_on": c.issued_on,
            "valid_until": c.valid_until,
            "state": c.state,
            "pdf_url": f"/certificates/{c.number}.pdf",
        }
        for c in services.my_certificates(request.auth)
    ]
