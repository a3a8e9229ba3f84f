"""Supervision by the emergency-management regulators (issue 9). Institution registration (网络培训机构备案登记,
ORG-04, REG-03): an institution applies in its city's module with its commitment letter (承诺书); the city
regulator approves or rejects; approved institutions are listed publicly per city, in registration order, never
ranked; the regulator may suspend or cancel a registration, the institution may withdraw."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RegistrationState(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting for review")
    APPROVED = "approved", _("Registered")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")
    WITHDRAWN = "withdrawn", pgettext_lazy("registration", "Withdrawn")


LIVE_STATES = (RegistrationState.SUBMITTED, RegistrationState.APPROVED, RegistrationState.SUSPENDED)


class InstitutionRegistration(models.Model):
    institution = models.ForeignKey(
        "orgs.Organisation",
        on_delete=models.PROTECT,
        related_name="registrations",
        verbose_name=_("institution"),
    )
    city = models.ForeignKey(
        "orgs.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    commitment = models.FileField(_("commitment letter"), upload_to="commitments/")
    commitment_sha256 = models.CharField(max_length=64)
    legal_representative = models.CharField(_("legal representative"), max_length=60)
    address = models.CharField(_("office address"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=60)
    contact_phone = models.CharField(_("contact phone"), max_length=30)
    scope = models.TextField(_("training offered"))
    state = models.CharField(
        max_length=10, choices=RegistrationState.choices, default=RegistrationState.SUBMITTED
    )
    number = models.CharField(_("registration number"), max_length=30, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()
    registered_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("institution registration")
        verbose_name_plural = _("institution registrations")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "city"],
                condition=models.Q(state__in=["submitted", "approved", "suspended"]),
                name="one_live_registration_per_city",
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id}@{self.city_id}"


class RegistrationEvent(models.Model):
    """Every step of a registration, kept as its history (who, when, why)."""

    registration = models.ForeignKey(InstitutionRegistration, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.registration_id} {self.action}"

    @property
    def label(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))


ACTION_LABELS = {
    "apply": _("Applied"),
    "approve": _("Approved and registered"),
    "reject": _("Rejected"),
    "suspend": _("Suspended"),
    "reinstate": _("Reinstated"),
    "cancel": _("Registration cancelled"),
    "withdraw": _("Withdrawn by the institution"),
}
