"""People of an enterprise or construction project (ENT-01) and the roster imports that brought them (ENT-02)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Personnel(models.Model):
    """A person working for a unit: job type, on site or left (离场). Teams are memberships of team organisations."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="personnel", verbose_name=_("unit")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="personnel")
    job_type = models.ForeignKey(
        "catalog.JobType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("job type"),
    )
    on_site = models.BooleanField(_("on site"), default=True)
    # The job code the real-name system last gave (ENT-03): a job type fixed here by an admin is kept until the
    # real-name system's code changes.
    realname_job_code = models.CharField(max_length=40, blank=True)
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "pk"]
        verbose_name = _("person at a unit")
        verbose_name_plural = _("people at units")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="personnel_once_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organisation_id}"


class RosterImport(models.Model):
    """One imported roster file: who, when, which file (SHA-256), the header block of the Guangzhou form, and what
    it did. Kept as the record of where accounts came from."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="roster_imports"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    template = models.CharField(max_length=12)
    header = models.JSONField(
        default=dict, help_text="单位名称, 联系人, 联系电话, mailing and invoice details"
    )
    rows = models.JSONField(
        default=list, help_text="[{row, name, id_index, certificate_type, training_kind, outcome}]"
    )
    created = models.PositiveIntegerField(default=0)
    linked = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    left_out = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.filename


class RealNameProject(models.Model):
    """A project's code in the construction real-name system (两制平台, ENT-03): its people come from there."""

    project = models.OneToOneField(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="realname", verbose_name=_("project")
    )
    code = models.CharField(_("real-name system project code"), max_length=40, unique=True)

    def __str__(self) -> str:
        return self.code


class RealNameSync(models.Model):
    """One sync with the real-name system (实名制同步): what it did, or why it failed (then nothing changed)."""

    project = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="realname_syncs")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    first = models.BooleanField(default=False, help_text="the project's first sync (all on-duty people)")
    ok = models.BooleanField(default=True)
    error = models.TextField(blank=True)
    joined = models.PositiveIntegerField(default=0)
    left = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    remote_on_site = models.PositiveIntegerField(null=True)
    local_on_site = models.PositiveIntegerField(null=True)
    report = models.JSONField(
        default=dict,
        help_text="joined, left, changed, refused rows, unmapped job codes, head-count differences",
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"sync of {self.project_id} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def counts_match(self) -> bool:
        return self.remote_on_site is not None and self.remote_on_site == self.local_on_site


class TrainingClass(models.Model):
    """开班培训 (ENT-04): a unit's class in one programme; its members are enrolled in it. Group sessions of the
    class (集中培训) are offline sessions with the signed attendance sheet and the face photos (FACE-06)."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="training_classes", verbose_name=_("unit")
    )
    programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="+", verbose_name=_("programme")
    )
    name = models.CharField(_("class name"), max_length=120)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "-pk"]
        verbose_name = _("training class")
        verbose_name_plural = _("training classes")

    def __str__(self) -> str:
        return self.name


class ClassMember(models.Model):
    """A person in a class, through their enrolment in the class's programme (kept for the record)."""

    training_class = models.ForeignKey(TrainingClass, on_delete=models.PROTECT, related_name="members")
    enrolment = models.ForeignKey("learning.Enrolment", on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["training_class", "enrolment"], name="class_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.training_class_id}/{self.enrolment_id}"


class ClassGroupSession(models.Model):
    """A group session of a class (企业集中培训): the offline session holding its attendance, sheet and photos."""

    training_class = models.ForeignKey(TrainingClass, on_delete=models.PROTECT, related_name="group_sessions")
    session = models.OneToOneField(
        "catalog.OfflineSession", on_delete=models.PROTECT, related_name="training_class_link"
    )

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.training_class_id}/{self.session_id}"
