"""Region profiles (POL), training programmes (PRG-01..03) and offline sessions (PRG-04)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.catalog.models.courses import Course
from safetrain.catalog.models.qualifications import QualificationItem
from safetrain.orgs.models import Industry, Organisation


def parse_fraction(value: str) -> Fraction:
    try:
        fraction = Fraction(str(value or "0").strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValidationError(_("Write the share as a fraction such as 1/3.")) from exc
    if not 0 <= fraction < 1:
        raise ValidationError(_("The offline share must be at least 0 and below 1."))
    return fraction


def validate_fraction(value: str) -> None:
    parse_fraction(value)


class ExamFaceFailureAction(models.TextChoices):
    """What an identity check not passed during an exam does to the attempt (FACE-01, GD#11)."""

    END = "end", _("End the attempt")
    FLAG = "flag", _("Flag the attempt for review")


class ExamReview(models.TextChoices):
    """What a candidate may see of a marked exam paper afterwards (EXM-06); mock exams always show everything."""

    NONE = "none", _("Score only")
    OWN = "own", _("Own answers, marked right or wrong")
    FULL = "full", _("Own answers, right answers and explanations")


class RegionProfile(models.Model):
    """The rules of one region, as data (POL): a programme names its profile and may override a value."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    class_hour_minutes = models.PositiveSmallIntegerField(_("minutes per class hour"), default=45)
    daily_cap_class_hours = models.PositiveSmallIntegerField(_("daily cap (class hours)"), default=6)
    min_study_days = models.PositiveSmallIntegerField(_("minimum study days before the exam"), default=0)
    idle_timeout_minutes = models.PositiveSmallIntegerField(_("idle sign-out (minutes)"), default=30)
    verification_interval_minutes = models.PositiveSmallIntegerField(
        _("longest time between face checks (minutes)"), default=15
    )
    face_max_failures = models.PositiveSmallIntegerField(_("failed face checks before sign-out"), default=3)
    face_timeout_seconds = models.PositiveSmallIntegerField(
        _("time to pass a requested face check (seconds)"), default=180
    )
    # During an exam the checks come at the same interval and with the same limits; a check failed that many
    # times, or not passed in time, either ends the attempt (its saved answers scored) or flags it for review.
    exam_face_failure_action = models.CharField(
        _("identity check failed during an exam"),
        max_length=4,
        choices=ExamFaceFailureAction.choices,
        default=ExamFaceFailureAction.END,
    )
    exam_review = models.CharField(
        _("exam paper review for the candidate"),
        max_length=4,
        choices=ExamReview.choices,
        default=ExamReview.FULL,
    )
    quiz_questions_per_class_hour = models.PositiveSmallIntegerField(
        default=5, verbose_name=_("quiz questions per class hour")
    )
    quiz_questions_per_10_minutes = models.PositiveSmallIntegerField(
        default=1, verbose_name=_("quiz questions per 10 minutes")
    )
    quiz_seconds_per_question = models.PositiveSmallIntegerField(
        default=60, verbose_name=_("quiz seconds per question")
    )
    quiz_max_tries = models.PositiveSmallIntegerField(default=5, verbose_name=_("quiz tries allowed"))
    quiz_pass_mark = models.PositiveSmallIntegerField(default=80, verbose_name=_("quiz pass mark"))
    exam_preset = models.CharField(_("exam preset"), max_length=40, blank=True)
    exam_duration_minutes = models.PositiveSmallIntegerField(
        default=120, verbose_name=_("exam duration (minutes)")
    )
    exam_attempts = models.PositiveSmallIntegerField(_("exam attempts"), default=2)
    exam_pass_mark = models.PositiveSmallIntegerField(_("exam pass mark"), default=80)
    mobile_exams_allowed = models.BooleanField(_("exams on mobile phones"), default=True)
    keep_phones = models.BooleanField(_("keep learners' phone numbers"), default=True)
    certificate_validity_months = models.PositiveSmallIntegerField(
        _("certificate validity (months)"), default=12
    )
    deadline_days = models.PositiveSmallIntegerField(
        _("days to finish after account opening"), null=True, blank=True
    )
    offline_min_fraction = models.CharField(
        _("minimum offline share of the syllabus hours"),
        max_length=10,
        default="0",
        validators=[validate_fraction],
        help_text=_("A fraction such as 1/3, or 0 for none."),
    )
    offline_total_test = models.BooleanField(_("offline total test required"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region profile")
        verbose_name_plural = _("region profiles")

    def __str__(self) -> str:
        return self.name


class ProgrammeKind(models.TextChoices):
    INITIAL = "initial", _("Initial training")
    REFRESHER = "refresher", _("Annual refresher")
    REVIEW = "review", _("Review or renewal")
    CONTINUING = "continuing", _("Continuing education")


class Audience(models.TextChoices):
    PRINCIPAL_AND_SAFETY_MANAGER = "principal_safety_manager", _("Principal persons and safety managers")
    PRINCIPAL = "principal", _("Principal persons")
    SAFETY_MANAGER = "safety_manager", _("Safety managers")
    SPECIAL_OPERATION = "special_operation", _("Special-operations workers")
    CONSTRUCTION_WORKER = "construction_worker", _("Construction workers")
    OTHER = "other", _("Other employees")


class DeadlineKind(models.TextChoices):
    NONE = "none", _("No deadline")
    FIXED = "fixed", _("Fixed date")
    AFTER_OPENING = "after_opening", _("Days after account opening")


# Values a programme may override; None on the programme means "the profile's value".
OVERRIDABLE = (
    "class_hour_minutes",
    "min_study_days",
    "certificate_validity_months",
    "exam_pass_mark",
    "exam_attempts",
    "offline_min_fraction",
)


class Programme(models.Model):
    """培训项目 (PRG-01): what a learner must complete."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    profile = models.ForeignKey(RegionProfile, verbose_name=_("region profile"), on_delete=models.PROTECT)
    kind = models.CharField(_("kind"), max_length=12, choices=ProgrammeKind.choices)
    audience = models.CharField(_("audience"), max_length=30, choices=Audience.choices)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    high_risk = models.BooleanField(_("for high-risk units"), null=True, blank=True)
    qualification_item = models.ForeignKey(
        QualificationItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="programmes",
        verbose_name=_("qualification item"),
    )
    required_minutes = models.PositiveIntegerField(_("required minutes"))
    required_public_minutes = models.PositiveIntegerField(_("required public-course minutes"), default=0)
    includes_job_type_course = models.BooleanField(
        _("adds the learner's job-type course"),
        default=False,
        help_text=_(
            "Shenzhen construction: the general course plus the course of the worker's own job type."
        ),
    )
    exam_rule = models.CharField(_("exam rule"), max_length=40, blank=True)
    deadline_kind = models.CharField(
        _("deadline"), max_length=16, choices=DeadlineKind.choices, default="none"
    )
    deadline_date = models.DateField(_("deadline date"), null=True, blank=True)
    deadline_days = models.PositiveSmallIntegerField(_("days after account opening"), null=True, blank=True)
    # Overrides of the profile (None: the profile's value).
    class_hour_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("minutes per class hour")
    )
    min_study_days = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("minimum study days")
    )
    certificate_validity_months = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("certificate validity (months)")
    )
    exam_pass_mark = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("exam pass mark"))
    exam_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("exam attempts allowed")
    )
    offline_min_fraction = models.CharField(
        max_length=10,
        blank=True,
        default="",
        validators=[validate_fraction],
        verbose_name=_("minimum offline share"),
    )
    fee = models.DecimalField(
        _("fee (yuan)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "What an enrolment application pays per trainee (ENR-02); empty: not offered for applications."
        ),
    )
    courses = models.ManyToManyField(
        Course, through="ProgrammeCourse", related_name="programmes", verbose_name=_("courses")
    )
    is_published = models.BooleanField(_("published"), default=False)
    self_enrolment = models.BooleanField(
        _("learners may enrol themselves"),
        default=False,
        help_text=_("Otherwise only units, institutions and operators enrol learners."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return self.name

    def setting(self, name: str) -> Any:
        """The programme's own value where it overrides the profile, else the profile's (POL)."""
        if name in OVERRIDABLE:
            own = getattr(self, name)
            if own is not None and own != "":
                return own
        return getattr(self.profile, name)

    @property
    def required_class_hours(self) -> Decimal:
        return (Decimal(self.required_minutes) / self.setting("class_hour_minutes")).quantize(Decimal("0.1"))

    def deadline_for(self, opened_on: dt.date) -> dt.date | None:
        """The study deadline of an account opened on `opened_on` (LRN-07)."""
        if self.deadline_kind == DeadlineKind.FIXED:
            return self.deadline_date
        if self.deadline_kind == DeadlineKind.AFTER_OPENING:
            days = self.deadline_days if self.deadline_days is not None else self.profile.deadline_days
            return opened_on + dt.timedelta(days=days or 0)
        return None

    def offline_minutes_required(self) -> int:
        """Offline minutes the region requires (PRG-04, Shanxi: "不少于大纲规定的1/3学时"): the fraction of the
        programme's syllabus minutes, rounded up."""
        return math.ceil(self.required_minutes * parse_fraction(self.setting("offline_min_fraction")))


class ProgrammeCourse(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="programme_courses")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="programme_courses")
    is_required = models.BooleanField(_("required"), default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["programme", "order"]
        constraints = [models.UniqueConstraint(fields=["programme", "course"], name="programme_course_once")]
        verbose_name = _("programme course")
        verbose_name_plural = _("programme courses")

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.course_id}"


class OfflineSession(models.Model):
    """线下培训 (PRG-04): held by the using unit on its own rules, procedures and cases."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="offline_sessions", verbose_name=_("programme")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="offline_sessions",
        verbose_name=_("organisation"),
    )
    date = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200)
    teacher = models.CharField(_("teacher"), max_length=60)
    content = models.TextField(_("content"))
    minutes = models.PositiveIntegerField(_("minutes"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-date"]
        verbose_name = _("offline session")
        verbose_name_plural = _("offline sessions")

    def __str__(self) -> str:
        return f"{self.date} {self.place}"


class OfflineAttendance(models.Model):
    session = models.ForeignKey(OfflineSession, on_delete=models.CASCADE, related_name="attendance")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    present = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "learner"], name="offline_attendance_once")]
        verbose_name = _("offline attendance")
        verbose_name_plural = _("offline attendances")

    def __str__(self) -> str:
        return f"{self.session_id}/{self.learner_id}"


class OfflinePhotoKind(models.TextChoices):
    SHEET = "sheet", _("Signed attendance sheet")
    FACES = "faces", _("Front-face photo")


class OfflinePhoto(models.Model):
    """Signed attendance sheet or front-face (group) photo (FACE-06)."""

    session = models.ForeignKey(OfflineSession, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=6, choices=OfflinePhotoKind.choices, default=OfflinePhotoKind.FACES)
    image = models.ImageField(_("photo"), upload_to="offline/")
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("offline training photo")
        verbose_name_plural = _("offline training photos")

    def __str__(self) -> str:
        return self.caption or self.image.name
