"""Enrolments (LRN-07 groundwork): a learner in a programme. Study progress and crediting come with LRN-01..05."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.catalog.models import JobType, Programme
from safetrain.orgs.models import Organisation


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("Studying")
    COMPLETED = "completed", _("Completed")
    VOID = "void", _("Void")


class EnrolmentQuerySet(models.QuerySet):
    def active(self, today: dt.date | None = None) -> EnrolmentQuerySet:
        """Studying and within the deadline (an expired enrolment is void, LRN-07)."""
        from django.utils import timezone

        today = today or timezone.localdate()
        return self.filter(status=EnrolmentStatus.ACTIVE).filter(
            models.Q(deadline__isnull=True) | models.Q(deadline__gte=today)
        )


class Enrolment(models.Model):
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolments")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="enrolments")
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("enrolling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrolments",
    )
    job_type = models.ForeignKey(JobType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_on = models.DateField(_("account opened"))
    deadline = models.DateField(_("study deadline"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=EnrolmentStatus.choices, default="active")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [models.UniqueConstraint(fields=["learner", "programme"], name="enrolment_once")]

    def __str__(self) -> str:
        return f"{self.learner_id} in {self.programme_id}"
