"""Supervision by the emergency-management regulators (issue 9). Institution registration (网络培训机构备案登记,
ORG-04, REG-03): an institution applies in its city's module with its commitment letter (承诺书); the city
regulator approves or rejects; approved institutions are listed publicly per city, in registration order, never
ranked; the regulator may suspend or cancel a registration, the institution may withdraw."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.core.fields import EncryptedTextField


class RegistrationState(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting for review")
    APPROVED = "approved", _("Registered")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")
    WITHDRAWN = "withdrawn", pgettext_lazy("registration", "Withdrawn")
    CANCELLED = "cancelled", _("Registration cancelled")


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
                fields=["number"], condition=~models.Q(number=""), name="registration_number_once"
            ),
            models.UniqueConstraint(
                fields=["institution", "city"],
                condition=models.Q(state__in=["submitted", "approved", "suspended"]),
                name="one_live_registration_per_city",
            ),
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
        verbose_name = _("registration event")
        verbose_name_plural = _("registration events")

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


# Complaints and feedback (投诉与意见反馈, REG-05) ---------------------------------------------------------------


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", pgettext_lazy("complaint kind", "Complaint")
    SUGGESTION = "suggestion", pgettext_lazy("complaint kind", "Suggestion")
    # Not an exam question (题目): someone asking the platform something (咨询).
    QUESTION = "question", pgettext_lazy("complaint kind", "Question")


class ComplaintState(models.TextChoices):
    OPEN = "open", _("Waiting to be handled")
    ASSIGNED = "assigned", _("Being handled")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


class Complaint(models.Model):
    """A learner's or a visitor's complaint, suggestion or question (REG-05): handled by the platform's operators or
    the unit it concerns, answered within the due date, closed by the person who sent it (or after a week without
    a reply). What people write and their contact details are encrypted at rest."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=ComplaintKind.choices)
    about = models.ForeignKey(
        "orgs.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
        verbose_name=_("about the unit"),
    )
    title = models.CharField(_("subject"), max_length=120)
    text = EncryptedTextField(_("what happened"))
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_name = EncryptedTextField(_("contact name"), blank=True)
    contact_phone = EncryptedTextField(_("contact phone"), blank=True)
    token = models.CharField(max_length=43, unique=True, editable=False)
    state = models.CharField(max_length=10, choices=ComplaintState.choices, default=ComplaintState.OPEN)
    submitted_at = models.DateTimeField()
    due_on = models.DateField(_("answer due by"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    response = EncryptedTextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("satisfaction (1-5)"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("complaint or feedback")
        verbose_name_plural = _("complaints and feedback")

    def __str__(self) -> str:
        return self.number

    @property
    def hours_to_answer(self) -> float | None:
        if self.answered_at is None:
            return None
        return round((self.answered_at - self.submitted_at).total_seconds() / 3600, 1)


class ComplaintEvent(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    note = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.action}"

    @property
    def label(self) -> str:
        return str(COMPLAINT_ACTIONS.get(self.action, self.action))


COMPLAINT_ACTIONS = {
    "submit": _("Sent"),
    "assign": _("Assigned"),
    "answer": _("Answered"),
    "reopen": _("Not resolved: reopened"),
    "close": _("Closed"),
}


# Annual satisfaction survey (满意度调查, REG-04) ---------------------------------------------------------------


class SurveyTarget(models.TextChoices):
    PLATFORM = "platform", _("The platform")
    INSTITUTION = "institution", _("The training institution")
    COURSE = "course", _("Each course studied")


class Survey(models.Model):
    """The annual satisfaction survey of learners (S3 十七): questions configured by the operators, asked of every
    learner who studied that year; a question about courses is asked for each course they studied."""

    year = models.PositiveSmallIntegerField(_("year"))
    title = models.CharField(_("title"), max_length=200)
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-year", "-pk"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")

    def __str__(self) -> str:
        return self.title

    def is_open(self, today=None) -> bool:
        from django.utils import timezone

        today = today or timezone.localdate()
        return self.opens_on <= today <= self.closes_on


class SurveyQuestion(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(_("question"), max_length=300)
    target = models.CharField(_("about"), max_length=12, choices=SurveyTarget.choices)
    with_comment = models.BooleanField(_("with a comment box"), default=False)

    class Meta:
        ordering = ["survey", "order", "pk"]
        verbose_name = _("survey question")
        verbose_name_plural = _("survey questions")

    def __str__(self) -> str:
        return self.text


class SurveyResponse(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "learner"], name="survey_answered_once")]
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.learner_id}"


class SurveyAnswer(models.Model):
    """One mark (1 very dissatisfied … 5 very satisfied) for one question, about the platform, one institution or
    one course; 4 and 5 count as satisfied."""

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(SurveyQuestion, on_delete=models.PROTECT, related_name="answers")
    institution = models.ForeignKey(
        "orgs.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    course = models.ForeignKey(
        "catalog.Course", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rating = models.PositiveSmallIntegerField()
    comment = EncryptedTextField(blank=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")

    def __str__(self) -> str:
        return f"{self.question_id}: {self.rating}"


# Pre-aggregated statistics (REG-01) -----------------------------------------------------------------------------


class StatMetric(models.TextChoices):
    LEARNERS = "learner", _("Registered learners")
    ENROLMENTS = "enrol", _("Enrolments")
    EXAMS_FAILED = "fail", _("Exams not passed")
    EXAMS_PASSED = "pass", _("Exams passed")
    CERTIFICATES = "cert", _("Certificates in force")
    REVOKED = "revoked", _("Certificates revoked")


class StatCount(models.Model):
    """One cell of the statistics cube: how many records of a metric a training unit has in a month, by the
    learner's sex and year of birth. Registered learners (`learner`) have no month: they are the unit's learners
    now. Kept by `safetrain.regulator.counters`: each change to a source record recounts its cells after the
    change commits; a nightly rebuild recomputes all of them."""

    unit = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE, related_name="+", db_index=False)
    metric = models.CharField(max_length=8, choices=StatMetric.choices)
    month = models.DateField(null=True)
    sex = models.CharField(max_length=1, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True)
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["metric", "unit", "month"], name="statcount_cell")]
        verbose_name = _("statistics count")
        verbose_name_plural = _("statistics counts")

    def __str__(self) -> str:
        return f"{self.unit_id} {self.metric} {self.month} {self.sex}{self.birth_year}: {self.n}"


class StatRollup(models.Model):
    """The cube summed over sex and year of birth: what a dashboard without a sex or age filter reads (a few
    rows per unit and month instead of one per learner cohort)."""

    unit = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE, related_name="+", db_index=False)
    metric = models.CharField(max_length=8, choices=StatMetric.choices)
    month = models.DateField(null=True)
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["metric", "unit", "month"], name="statrollup_cell")]
        verbose_name = _("statistics roll-up")
        verbose_name_plural = _("statistics roll-ups")

    def __str__(self) -> str:
        return f"{self.unit_id} {self.metric} {self.month}: {self.n}"


class StatDirty(models.Model):
    """A statistics cell to recount: written in the transaction that changed a record (so a rolled-back change
    leaves none), append-only (concurrent writers never wait on each other here), drained by one periodic task
    that recounts each distinct cell once, however many changes touched it."""

    id = models.BigAutoField(primary_key=True)
    family = models.CharField(max_length=8)
    unit_id = models.BigIntegerField()
    month = models.DateField(null=True)

    class Meta:
        verbose_name = _("statistics to recompute")
        verbose_name_plural = _("statistics to recompute")

    def __str__(self) -> str:
        return f"{self.family} {self.unit_id} {self.month}"
