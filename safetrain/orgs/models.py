"""Administrative regions (行政区划, ORG-01) and organisations (ORG-02, ORG-03).

Both are trees kept with a materialised path, so "everything under X" is one indexed prefix filter: a
regulator sees its region's subtree, an enterprise admin its organisation's subtree (projects, teams).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County")


class Region(models.Model):
    """A province, city or county with its official 6-digit code (GB/T 2260)."""

    code = models.CharField(_("code"), max_length=6, unique=True)
    name = models.CharField(_("name"), max_length=60)
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    path = models.CharField(
        max_length=40,
        db_index=True,
        help_text="codes from the province down, '/'-joined",
        verbose_name=_("tree path"),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def full_name(self) -> str:
        names = []
        node: Region | None = self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return " ".join(reversed(names))

    def contains(self, other: Region) -> bool:
        return other.path.startswith(self.path)


class OrganisationKind(models.TextChoices):
    PLATFORM = "platform", pgettext_lazy("organisation kind", "Platform operator")
    REGULATOR = "regulator", pgettext_lazy("organisation kind", "Regulator")
    INSTITUTION = "institution", _("Training institution")
    ENTERPRISE = "enterprise", _("Enterprise")
    PROJECT = "project", _("Construction project")
    TEAM = "team", _("Team")


class Industry(models.TextChoices):
    COAL_MINE = "coal_mine", _("Coal mine")
    HAZARDOUS_CHEMICALS = "hazardous_chemicals", _("Hazardous chemicals")
    NON_COAL_MINE = "non_coal_mine", _("Non-coal mine")
    METALLURGY = "metallurgy", _("Metallurgy and other industry and trade")
    CONSTRUCTION = "construction", _("Construction")
    ROAD_TRANSPORT = "road_transport", _("Road transport")
    FIREWORKS = "fireworks", _("Fireworks")
    OTHER = "other", _("Other (non-high-risk)")


# 3号令 (NAT-02): coal, non-coal mines, hazardous chemicals, fireworks and metal smelting are high-risk.
HIGH_RISK_INDUSTRIES = frozenset(
    {
        Industry.COAL_MINE,
        Industry.NON_COAL_MINE,
        Industry.HAZARDOUS_CHEMICALS,
        Industry.FIREWORKS,
        Industry.METALLURGY,
    }
)


class ProjectStatus(models.TextChoices):
    PREPARING = "preparing", _("Preparing")
    UNDER_CONSTRUCTION = "under_construction", _("Under construction")
    SUSPENDED = "suspended", _("Suspended")
    ACCEPTED = "accepted", _("Accepted (completed)")


# Which parent kinds each kind may hang under (None: top level allowed).
ALLOWED_PARENTS: dict[str, set[str | None]] = {
    OrganisationKind.PLATFORM: {None},
    OrganisationKind.REGULATOR: {None, OrganisationKind.REGULATOR},
    OrganisationKind.INSTITUTION: {None},
    OrganisationKind.ENTERPRISE: {None, OrganisationKind.ENTERPRISE},
    OrganisationKind.PROJECT: {OrganisationKind.ENTERPRISE},
    OrganisationKind.TEAM: {OrganisationKind.PROJECT, OrganisationKind.ENTERPRISE},
}


class OrganisationQuerySet(models.QuerySet):
    def subtree_of(self, org: Organisation) -> OrganisationQuerySet:
        return self.filter(path__startswith=org.path)

    def in_region(self, region: Region) -> OrganisationQuerySet:
        return self.filter(region__path__startswith=region.path)

    def visible_to(self, user: Any) -> OrganisationQuerySet:
        """The one scoping rule ("every query is scoped", REQUIREMENTS Roles): every list and API narrows by it.

        Operators see everything; a regulator sees every organisation in its region's subtree; an enterprise
        or institution admin sees its organisation's subtree; a learner sees the organisations it belongs to.
        """
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_everything():
            return self.all()
        return self._scoped(user, staff_only=False)

    def supervised_by(self, user: Any) -> OrganisationQuerySet:
        """The organisations whose people the user supervises: as `visible_to`, but only through its regulator and
        admin memberships (being a learner somewhere gives no say over that unit's people)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_everything():
            return self.all()
        return self._scoped(user, staff_only=True)

    def administered_by(self, user: Any) -> OrganisationQuerySet:
        """The units the user administers (enterprise or institution admin) and everything under them; all for
        operators. Not a regulator's region: regulators supervise, they do not run tests or import people."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_everything():
            return self.all()
        condition = Q(pk__in=[])
        for membership in user.active_memberships():
            if membership.role in {"enterprise_admin", "institution_admin"}:
                condition |= Q(path__startswith=membership.organisation.path)
        return self.filter(condition)

    def _scoped(self, user: Any, *, staff_only: bool) -> OrganisationQuerySet:
        condition = Q(pk__in=[])
        for membership in user.active_memberships():
            org = membership.organisation
            if membership.role == "regulator":
                # A regulator supervises the units of its region, never the platform operator's own staff.
                condition |= Q(region__path__startswith=org.region.path) & ~Q(kind=OrganisationKind.PLATFORM)
            elif membership.role in {"enterprise_admin", "institution_admin"}:
                condition |= Q(path__startswith=org.path)
            elif not staff_only:
                condition |= Q(pk=org.pk)
        return self.filter(condition)


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, verbose_name=_("tree path"))
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    is_high_risk = models.BooleanField(_("high-risk industry"), default=False)
    project_status = models.CharField(
        _("project status"), max_length=20, choices=ProjectStatus.choices, blank=True
    )
    contact_name = models.CharField(_("contact person"), max_length=60, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"], condition=~Q(uscc=""), name="organisation_uscc_unique_when_set"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_organisation_id(self) -> int | None:
        return self.pk
