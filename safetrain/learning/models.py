"""Enrolments (LRN-07 groundwork): a learner in a programme. Study progress and crediting come with LRN-01..05."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.catalog.models import JobType, Programme
from safetrain.core.constraints import CompositeForeignKey
from safetrain.orgs.models import Organisation
from safetrain.records.models import AppendOnlyQuerySet, AppendOnlyRecord


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
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("learner"),
    )
    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("programme")
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("enrolling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrolments",
    )
    job_type = models.ForeignKey(
        JobType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("job type")
    )
    opened_on = models.DateField(_("account opened"))
    deadline = models.DateField(_("study deadline"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=EnrolmentStatus.choices, default="active")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, db_index=True, verbose_name=_("updated at"))

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [
            models.UniqueConstraint(fields=["learner", "programme"], name="enrolment_once"),
            # What a study record without a session refers to: the enrolment together with its learner.
            models.UniqueConstraint(fields=["id", "learner"], name="enrolment_learner_key"),
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} in {self.programme_id}"


class LessonProgress(models.Model):
    """Per enrolment and lesson: where the learner got to, what was watched, what was credited (LRN-01..05)."""

    # No index of its own: lesson_progress_once (enrolment, lesson) serves every look-up by enrolment.
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="progress", db_index=False
    )
    lesson = models.ForeignKey("catalog.Lesson", on_delete=models.PROTECT, related_name="+")
    last_position = models.FloatField(default=0)
    furthest_position = models.FloatField(default=0)
    watched = models.JSONField(
        default=list, help_text="merged [start, end] intervals of seconds actually played"
    )
    credited_seconds = models.FloatField(default=0)
    cancelled_seconds = models.FloatField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrolment", "lesson"], name="lesson_progress_once")]
        verbose_name = _("lesson progress")
        verbose_name_plural = _("lesson progress records")

    def __str__(self) -> str:
        return f"{self.enrolment_id}/{self.lesson_id}: {self.credited_seconds:.0f}s"

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


class SessionState(models.TextChoices):
    ACTIVE = "active", _("Playing")
    CLOSED = "closed", _("Closed")
    SUPERSEDED = "superseded", _("Replaced by a newer session")
    FACE_FAILED = "face_failed", _("Ended: identity check not passed")


class StudySession(models.Model):
    """One playing page of one lesson. Opening another closes it (one tab, one device: ANTI-03)."""

    # Sessions are looked up by id and by learner (study_session_learner_state), never by enrolment, lesson or
    # progress, so those keys have no index of their own. Every heartbeat updates the row, and PostgreSQL opens
    # and locks every index of the table for each update; and with an index on the lesson, the database could
    # check a study record's key (StudyRecord.Meta) by scanning every session of that lesson instead of one row.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="study_sessions", db_index=False
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="sessions", db_index=False
    )
    lesson = models.ForeignKey("catalog.Lesson", on_delete=models.PROTECT, related_name="+", db_index=False)
    # The progress row of (enrolment, lesson): a heartbeat reads and locks both rows in one query.
    progress = models.ForeignKey(LessonProgress, on_delete=models.PROTECT, related_name="+", db_index=False)
    state = models.CharField(max_length=12, choices=SessionState.choices, default=SessionState.ACTIVE)
    started_at = models.DateTimeField()
    last_accepted_at = models.DateTimeField()
    last_seq = models.IntegerField(default=0)
    last_position = models.FloatField(default=0)
    last_clean_playing = models.BooleanField(
        default=False, help_text="the previous beat reported clean playback"
    )
    time_carry = models.FloatField(
        default=0, help_text="unused seconds (network jitter) carried to the next beat"
    )
    credited_seconds = models.FloatField(default=0)
    face_due_at = models.DateTimeField(
        null=True, blank=True, help_text="when the next face check falls due (a random moment, FACE-01)"
    )
    face_failures = models.PositiveSmallIntegerField(default=0)
    face_passed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    # The sign-in (browser session or API token) that opened the page: only it reports on the page, and the page's
    # heartbeat key is bound to it (learning.hotpath).
    auth_session = models.ForeignKey(
        "accounts.AuthSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["learner", "state"], name="study_session_learner_state")]
        constraints = [
            # The database itself refuses a second playing session of one learner (ANTI-03).
            models.UniqueConstraint(
                fields=["learner"], condition=models.Q(state="active"), name="one_active_study_session"
            ),
            # What a study record refers to: the session together with its learner, enrolment and lesson.
            models.UniqueConstraint(
                fields=["id", "learner", "enrolment", "lesson"], name="study_session_record_key"
            ),
        ]
        verbose_name = _("study session")
        verbose_name_plural = _("study sessions")

    def __str__(self) -> str:
        return f"session {self.pk} of {self.learner_id}"


class DailyCredit(models.Model):
    """Seconds credited to a learner on one local (Asia/Shanghai) day, per enrolment: the daily cap (LRN-04) and
    the distinct study days (LRN-06) read it."""

    # No index of its own: daily_credit_once (learner, enrolment, day) serves every look-up by learner.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="daily_credits")
    day = models.DateField()
    seconds = models.FloatField(default=0)
    cancelled_seconds = models.FloatField(
        default=0, help_text="cancelled for confirmed cheating; the cap stays used"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "enrolment", "day"], name="daily_credit_once")
        ]
        verbose_name = _("daily credit")
        verbose_name_plural = _("daily credits")

    def __str__(self) -> str:
        return f"{self.learner_id} {self.day}: {self.seconds:.0f}s"


class StudyRecordKind(models.TextChoices):
    PERIOD_START = "period_start", _("Study period started")
    HEARTBEAT = "heartbeat", _("Heartbeat")
    PERIOD_END = "period_end", _("Study period ended")
    CANCELLED = "cancelled", _("Credit cancelled")


class StudyRecord(AppendOnlyRecord):
    """The study record REC-02 keeps for years: every accepted and rejected heartbeat, the start and end of each
    continuous period, with IP and user agent. Append-only (model, queryset and database triggers)."""

    at = models.DateTimeField(db_index=True, verbose_name=_("time"))
    # The database checks these four together, not one by one (Meta.constraints): a record of a session (every
    # heartbeat, the start and end of every period) names that session with the session's own learner, enrolment
    # and lesson, one check on the session row the heartbeat has already locked; a record without a session (a
    # cancellation) names a lesson-progress row of its enrolment and the enrolment's learner.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        verbose_name=_("learner"),
    )
    # No index of its own: study_record_enrolment_at (enrolment, at) serves every look-up by enrolment.
    enrolment = models.ForeignKey(
        Enrolment,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("enrolment"),
    )
    lesson = models.ForeignKey(
        "catalog.Lesson",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        verbose_name=_("lesson"),
    )
    session = models.ForeignKey(
        StudySession,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_constraint=False,
        verbose_name=_("study session"),
    )
    kind = models.CharField(max_length=16, choices=StudyRecordKind.choices, verbose_name=_("kind"))
    seq = models.IntegerField(null=True, verbose_name=_("sequence"))
    position = models.FloatField(null=True, verbose_name=_("position"))
    credited_seconds = models.FloatField(default=0, verbose_name=_("credited seconds"))
    accepted = models.BooleanField(default=True, verbose_name=_("accepted"))
    reasons = models.JSONField(default=list, verbose_name=_("reasons"))
    ip = models.CharField(max_length=64, blank=True, verbose_name=_("IP address"))
    user_agent = models.CharField(max_length=400, blank=True, verbose_name=_("user agent"))

    # The enrolment of a record without a session, NULL on the others: the key of the checks of those records.
    sessionless_enrolment = models.GeneratedField(
        expression=models.Case(models.When(session__isnull=True, then=models.F("enrolment"))),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
        verbose_name=_("enrolment (no session)"),
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["enrolment", "at"], name="study_record_enrolment_at")]
        constraints = [
            CompositeForeignKey(
                fields=["session", "learner", "enrolment", "lesson"],
                to="learning.StudySession",
                to_fields=["id", "learner", "enrolment", "lesson"],
                name="study_record_session_refs",
            ),
            CompositeForeignKey(
                fields=["sessionless_enrolment", "lesson"],
                to="learning.LessonProgress",
                to_fields=["enrolment", "lesson"],
                name="study_record_progress_refs",
            ),
            CompositeForeignKey(
                fields=["sessionless_enrolment", "learner"],
                to="learning.Enrolment",
                to_fields=["id", "learner"],
                name="study_record_enrolment_refs",
            ),
        ]
        verbose_name = _("study record")
        verbose_name_plural = _("study records")

    def __str__(self) -> str:
        return f"{self.kind} {self.learner_id} {self.at:%Y-%m-%d %H:%M:%S}"


class SuspiciousKind(models.TextChoices):
    REPLAYED_SEQ = "replayed_seq", _("Replayed or out-of-order heartbeat")
    SEEK_FORWARD = "seek_forward", _("Position ahead of what was watched")
    FORGED_POSITION = "forged_position", _("Impossible position")
    RATE = "rate", _("Playback faster than 1x")
    HIDDEN = "hidden", _("Playing while hidden or unfocused")
    TOO_FAST = "too_fast", _("Heartbeats faster than the interval")
    STALE_SESSION = "stale_session", _("Heartbeat on a replaced session")
    EXAM_LEFT_PAGE = "exam_left_page", _("Left the exam page (focus lost or tab switched)")
    EXAM_FACE_FAILED = "exam_face_failed", _("Identity check during the exam not passed")


class SuspiciousEvent(models.Model):
    """Evidence for the review queue (ANTI-04, ANTI-05)."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("learner")
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="suspicious_events", verbose_name=_("enrolment")
    )
    session = models.ForeignKey(
        StudySession, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("study session")
    )
    kind = models.CharField(max_length=20, choices=SuspiciousKind.choices, verbose_name=_("kind"))
    evidence = models.JSONField(default=dict, verbose_name=_("evidence"))
    at = models.DateTimeField(verbose_name=_("time"))
    review = models.ForeignKey(
        "SuspicionReview",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("review"),
    )

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["enrolment", "kind"], name="suspicious_enrolment_kind")]
        verbose_name = _("suspicious event")
        verbose_name_plural = _("suspicious events")

    def __str__(self) -> str:
        return f"{self.kind} {self.learner_id}"


class ReviewDecision(models.TextChoices):
    DISMISSED = "dismissed", _("Dismissed")
    CONFIRMED = "confirmed", _("Cheating confirmed")


class SuspicionReview(models.Model):
    """An operator's decision on an enrolment's suspicious events (ANTI-05)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=12, choices=ReviewDecision.choices)
    reason = models.TextField(_("reason"))
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    events_reviewed = models.PositiveIntegerField(default=0)
    cancelled_seconds = models.FloatField(default=0)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        verbose_name = _("suspicion review")
        verbose_name_plural = _("suspicion reviews")

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.decision}"


class QuizQuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TRUE_FALSE = "true_false", _("True or false")


class QuizQuestion(models.Model):
    """A question of a course's lesson-quiz bank (QZ-01). `answer` holds the indexes of the right options."""

    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, related_name="quiz_questions", verbose_name=_("course")
    )
    kind = models.CharField(max_length=12, choices=QuizQuestionKind.choices, verbose_name=_("kind"))
    stem = models.TextField(_("question"))
    options = models.JSONField(default=list, verbose_name=_("options"))
    answer = models.JSONField(default=list, verbose_name=_("answer"))
    explanation = models.TextField(_("explanation"), blank=True)
    is_active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name = _("quiz question")
        verbose_name_plural = _("quiz questions")

    def __str__(self) -> str:
        return self.stem[:40]


class QuizAttempt(models.Model):
    """One try at a lesson's quiz: questions drawn at random, 60 s each, timed by the server."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="quiz_attempts")
    lesson = models.ForeignKey("catalog.Lesson", on_delete=models.PROTECT, related_name="+")
    try_number = models.PositiveSmallIntegerField()
    question_ids = models.JSONField(default=list)
    answers = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    passed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "lesson", "try_number"], name="quiz_try_once")
        ]
        verbose_name = _("quiz attempt")
        verbose_name_plural = _("quiz attempts")

    def __str__(self) -> str:
        return f"quiz {self.lesson_id} try {self.try_number}"
