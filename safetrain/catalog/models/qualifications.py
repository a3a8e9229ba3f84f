"""The qualification catalogue (CAT-02) and construction job types with external code mapping (CAT-03)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.orgs.models import Industry


class QualificationKind(models.TextChoices):
    SPECIAL_OPERATION = "special_operation", _("Special-operations certificate")
    PRINCIPAL_SAFETY_MANAGER = "principal_safety_manager", _("Principal person and safety manager")


class QualificationCategory(models.Model):
    """作业类别 (e.g. 1 电工作业) or the industry group of principal / safety-manager training."""

    kind = models.CharField(_("qualification type"), max_length=30, choices=QualificationKind.choices)
    code = models.CharField(_("code"), max_length=10, blank=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=120)
    order = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        ordering = ["kind", "order"]
        verbose_name = _("qualification category")
        verbose_name_plural = _("qualification categories")
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="qualification_category_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class QualificationItem(models.Model):
    """操作项目 (e.g. 1.1 低压电工) or one principal / safety-manager training; each offers new certification
    (新取证) and review (复审或换证)."""

    category = models.ForeignKey(
        QualificationCategory, on_delete=models.PROTECT, related_name="items", verbose_name=_("category")
    )
    code = models.CharField(_("code"), max_length=10, blank=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    offers_initial = models.BooleanField(_("new certification"), default=True)
    offers_review = models.BooleanField(_("review or renewal"), default=True)
    order = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        ordering = ["category__kind", "category__order", "order"]
        verbose_name = _("qualification item")
        verbose_name_plural = _("qualification items")
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="qualification_item_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class JobType(models.Model):
    """工种 of construction workers. Management posts (资料员, 安全员 …) take only the general course (PRG-03)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=60, unique=True)
    is_management = models.BooleanField(_("management post"), default=False)
    order = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("job type")
        verbose_name_plural = _("job types")

    def __str__(self) -> str:
        return self.name


class JobCodeMapping(models.Model):
    """An external system's job code (e.g. the real-name system's) and the job type it means here.
    `job_type` empty: known but unmapped, listed for an admin to decide (CAT-03)."""

    source = models.CharField(_("source system"), max_length=40)
    external_code = models.CharField(_("external code"), max_length=40)
    external_name = models.CharField(_("external name"), max_length=80)
    job_type = models.ForeignKey(
        JobType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mappings",
        verbose_name=_("job type"),
    )

    class Meta:
        ordering = ["source", "external_code"]
        verbose_name = _("job code mapping")
        verbose_name_plural = _("job code mappings")
        constraints = [
            models.UniqueConstraint(fields=["source", "external_code"], name="job_code_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_code} {self.external_name} -> {self.job_type or '?'}"
