"""Certificates and training-hour proofs (CERT-01..05, CERT-07).

A certificate keeps a copy of what it says (holder, programme, hours, score, dates, issuers) as issued, so later
changes to a name or a programme never change a document already given. It is never deleted: revocation sets
its reason and date, and verification then says revoked.

The holder's name is encrypted at rest like every personal field (ACC-08); its masked form (张*三) has a column of
its own, so the public verification never decrypts. The ID number is kept masked only. A mailing's recipient, phone
and address are encrypted too.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.identity import mask_name
from safetrain.core.display import class_hours_text
from safetrain.core.fields import EncryptedTextField


class CertificateKind(models.TextChoices):
    CERTIFICATE = "certificate", _("Training certificate")
    HOUR_PROOF = "hour_proof", _("Training-hour proof")


class CertificateState(models.TextChoices):
    VALID = "valid", _("Valid")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class Certificate(models.Model):
    number = models.CharField(_("certificate number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=CertificateKind.choices)
    enrolment = models.ForeignKey(
        "learning.Enrolment",
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("enrolment"),
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("learner"),
    )
    programme = models.ForeignKey(
        "catalog.Programme",
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("programme"),
    )
    holder_name = EncryptedTextField(_("name"))
    holder_name_masked = models.CharField(_("name (masked)"), max_length=100, editable=False)
    holder_id_masked = models.CharField(_("ID number (masked)"), max_length=32)
    programme_name = models.CharField(_("programme"), max_length=200)
    category = models.CharField(_("category"), max_length=100)
    class_hours = models.DecimalField(_("class hours"), max_digits=6, decimal_places=1)
    online_minutes = models.PositiveIntegerField(default=0, verbose_name=_("online minutes"))
    offline_minutes = models.PositiveIntegerField(default=0, verbose_name=_("offline minutes"))
    exam_score = models.DecimalField(_("exam score"), max_digits=6, decimal_places=1, null=True, blank=True)
    offline_score = models.DecimalField(
        _("offline test score"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    issuer = models.CharField(_("issuer"), max_length=200)
    joint_issuer = models.CharField(_("joint issuer"), max_length=200, blank=True)
    issued_on = models.DateField(_("issued on"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason for revocation"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-issued_on", "-pk"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "kind"], name="one_certificate_per_kind"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        self.holder_name_masked = mask_name(self.holder_name or "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "holder_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "holder_name_masked"}
        super().save(*args, **kwargs)

    def state_on(self, day: dt.date | None = None) -> str:
        if self.revoked_at is not None:
            return CertificateState.REVOKED
        day = day or timezone.localdate()
        if self.valid_until is not None and day > self.valid_until:
            return CertificateState.EXPIRED
        return CertificateState.VALID

    @property
    def state(self) -> str:
        return self.state_on()

    def get_state_display(self) -> str:
        return str(CertificateState(self.state).label)

    @property
    def hours_text(self) -> str:
        """The class hours as printed (certificate PDF, verify page, archive): minutes when the hours round to
        zero. A certificate states the programme's required time, an hour proof the time credited."""
        if self.kind == CertificateKind.HOUR_PROOF:
            minutes = self.online_minutes + self.offline_minutes
        else:
            minutes = self.programme.required_minutes
        return class_hours_text(self.class_hours, minutes)

    @property
    def audit_organisation_id(self) -> int | None:
        return getattr(self.learner, "primary_organisation_id", None)


class Mailing(models.Model):
    """A paper certificate sent by courier (CERT-07)."""

    certificate = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, related_name="mailings", verbose_name=_("certificate")
    )
    recipient = EncryptedTextField(_("recipient"))
    phone = EncryptedTextField(_("phone"))
    address = EncryptedTextField(_("address"))
    courier = models.CharField(_("courier"), max_length=40)
    tracking_number = models.CharField(_("tracking number"), max_length=40)
    sent_on = models.DateField(_("sent on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-sent_on", "-pk"]
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        constraints = [
            models.UniqueConstraint(fields=["courier", "tracking_number"], name="tracking_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.courier} {self.tracking_number}"
