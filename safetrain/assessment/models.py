"""Question banks (EXM-01). Papers, attempts, mock exams and the wrong-answer book build on them."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.records.models import AppendOnlyQuerySet, AppendOnlyRecord


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TRUE_FALSE = "true_false", _("True or false")
    FILL = "fill", _("Fill in the blank")


class Difficulty(models.IntegerChoices):
    EASY = 1, _("Easy")
    MEDIUM = 2, _("Medium")
    HARD = 3, _("Hard")


TRUE_FALSE_OPTIONS = ["正确", "错误"]


def fingerprint(kind: str, stem: str, options: list[str]) -> str:
    """Type, stem and options with whitespace normalised: the same question is stored once per bank."""
    text = "\x1f".join([kind, " ".join(stem.split()), *[" ".join(o.split()) for o in options]])
    return hashlib.sha256(text.encode()).hexdigest()


class Question(models.Model):
    """A question of a programme's exam bank.

    `options` are the choices' texts (true/false: 正确, 错误). `answer` holds the indexes of the right options for
    choice and true/false questions, and for fill-in one list of accepted texts per blank (the blanks are written
    as ____ in the stem).
    """

    programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="questions", verbose_name=_("programme")
    )
    course = models.ForeignKey(
        "catalog.Course",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exam_questions",
        verbose_name=_("course"),
    )
    kind = models.CharField(_("type"), max_length=12, choices=QuestionKind.choices)
    stem = models.TextField(_("question"))
    image = models.ImageField(_("image"), upload_to="questions/", blank=True)
    options = models.JSONField(default=list, verbose_name=_("options"))
    answer = models.JSONField(default=list, verbose_name=_("answer"))
    explanation = models.TextField(_("explanation"), blank=True)
    knowledge_point = models.CharField(_("knowledge point"), max_length=100, blank=True)
    difficulty = models.PositiveSmallIntegerField(
        _("difficulty"), choices=Difficulty.choices, default=Difficulty.MEDIUM
    )
    fingerprint = models.CharField(
        max_length=64,
        help_text="type, stem and options, normalised: one per bank",
        verbose_name=_("fingerprint"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["programme", "pk"]
        verbose_name = _("exam question")
        verbose_name_plural = _("exam questions")
        constraints = [
            models.UniqueConstraint(fields=["programme", "fingerprint"], name="question_once_per_bank"),
        ]
        indexes = [models.Index(fields=["programme", "kind", "is_active"], name="question_bank_kind")]

    def __str__(self) -> str:
        return self.stem[:40]

    def save(self, *args, **kwargs) -> None:
        self.fingerprint = fingerprint(self.kind, self.stem, self.options)
        super().save(*args, **kwargs)


class PaperRule(models.Model):
    """How a programme's exam paper is made (EXM-02): sections of a question type with a count and a score each,
    optional difficulty quotas (exact counts per level) or knowledge-point quotas (at least so many), drawn at
    random for every candidate; or a fixed (manual) list of questions."""

    programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="paper_rules", verbose_name=_("programme")
    )
    name = models.CharField(_("name"), max_length=100)
    preset = models.CharField(_("preset"), max_length=40, blank=True)
    sections = models.JSONField(default=list, verbose_name=_("sections"))
    question_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="a manual paper: these questions, in order",
        verbose_name=_("questions"),
    )
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"))
    pass_mark = models.DecimalField(_("pass mark"), max_digits=5, decimal_places=1)
    attempts = models.PositiveSmallIntegerField(_("attempts"))
    shuffle_options = models.BooleanField(_("shuffle the options"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("paper rule")
        verbose_name_plural = _("paper rules")
        constraints = [
            models.UniqueConstraint(
                fields=["programme"], condition=models.Q(is_active=True), name="one_active_paper_rule"
            )
        ]

    def __str__(self) -> str:
        return self.name


class AttemptKind(models.TextChoices):
    EXAM = "exam", _("Exam")
    MOCK = "mock", _("Mock exam")


class ExamAttempt(models.Model):
    """One candidate's paper (EXM-03..05): its own random draw and option orders, a deadline kept by the server,
    answers saved one by one (ExamAnswer), scored on submission or at the deadline."""

    enrolment = models.ForeignKey(
        "learning.Enrolment",
        on_delete=models.PROTECT,
        related_name="exam_attempts",
        verbose_name=_("enrolment"),
    )
    rule = models.ForeignKey(
        PaperRule, on_delete=models.PROTECT, related_name="exam_attempts", verbose_name=_("paper rule")
    )
    kind = models.CharField(
        max_length=4, choices=AttemptKind.choices, default=AttemptKind.EXAM, verbose_name=_("kind")
    )
    number = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="exam attempts: 1, 2, 3 …", verbose_name=_("attempt number")
    )
    items = models.JSONField(
        default=list, help_text="[{question, order (option permutation), score}]", verbose_name=_("paper")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    deadline = models.DateTimeField(db_index=True, verbose_name=_("deadline"))
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    submitted_by = models.CharField(
        max_length=10,
        blank=True,
        help_text="candidate, deadline, or face_check (ended: an identity check during the exam was not passed)",
        verbose_name=_("submitted by"),
    )
    score = models.DecimalField(
        max_digits=6, decimal_places=1, null=True, blank=True, verbose_name=_("score")
    )
    total = models.DecimalField(max_digits=6, decimal_places=1, default=0, verbose_name=_("full marks"))
    passed = models.BooleanField(null=True, blank=True, verbose_name=_("passed"))
    ip = models.CharField(max_length=64, blank=True, verbose_name=_("IP address"))
    user_agent = models.CharField(max_length=400, blank=True, verbose_name=_("user agent"))
    # Identity checks during an exam (FACE-01, GD#11; assessment.exam_checks): when the next one falls due (a
    # random moment, never shown to the page in advance), the failed tries of the due one, the last pass, and when
    # a check not passed flagged the attempt for review (profile rule "flag").
    face_due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("face check due at"))
    face_failures = models.PositiveSmallIntegerField(default=0, verbose_name=_("face checks failed"))
    face_passed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("face check passed at"))
    face_flagged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("flagged at"))

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "kind"],
                condition=models.Q(submitted_at__isnull=True),
                name="one_open_attempt_per_kind",
            ),
            models.UniqueConstraint(
                fields=["enrolment", "number"],
                condition=models.Q(kind="exam"),
                name="exam_attempt_number_once",
            ),
        ]
        verbose_name = _("exam attempt")
        verbose_name_plural = _("exam attempts")

    def __str__(self) -> str:
        return f"{self.kind} {self.number or ''} of enrolment {self.enrolment_id}"


class ExamAnswer(models.Model):
    """An answer as given (EXM-04): saved at once, one row per question, replaced when changed."""

    attempt = models.ForeignKey(ExamAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    value = models.JSONField(default=list, help_text="original option indexes, or the blanks' texts")
    saved_at = models.DateTimeField()
    correct = models.BooleanField(null=True, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")
        ]
        verbose_name = _("exam answer")
        verbose_name_plural = _("exam answers")

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.question_id}"


class WrongAnswerPractice(models.Model):
    """Re-practice of a question from the wrong-answer book (EXM-06): mastered once answered right again."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(
        max_length=5, choices=[("exam", _("Exam question")), ("quiz", _("Lesson quiz"))]
    )
    question_id = models.BigIntegerField()
    tries = models.PositiveIntegerField(default=0)
    mastered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "source", "question_id"], name="one_practice_per_question"
            )
        ]
        verbose_name = _("wrong-answer practice")
        verbose_name_plural = _("wrong-answer practices")

    def __str__(self) -> str:
        return f"{self.learner_id} {self.source} {self.question_id}"


class OfflineTestPaper(models.Model):
    """线下总测 (EXM-08): a printed paper of at least 100 questions drawn at random from the programme's bank, made
    by the using unit after all theory training; its answer key is printed separately."""

    number = models.CharField(_("paper number"), max_length=24, unique=True)
    programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="offline_test_papers"
    )
    organisation = models.ForeignKey(
        "orgs.Organisation",
        on_delete=models.PROTECT,
        related_name="offline_test_papers",
        verbose_name=_("unit"),
    )
    held_on = models.DateField(_("test date"))
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"))
    items = models.JSONField(default=list, help_text="[{question, kind, stem, options, answer}] as printed")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("offline total test paper")
        verbose_name_plural = _("offline total test papers")

    def __str__(self) -> str:
        return self.number


class OfflineTestResult(AppendOnlyRecord):
    """A learner's score in the offline total test (EXM-08): sitting 1, and sitting 2 (the one retake) after a fail.
    Rows are never changed: a wrong entry is corrected by a later row for the same sitting, with the reason."""

    enrolment = models.ForeignKey(
        "learning.Enrolment",
        on_delete=models.PROTECT,
        related_name="offline_test_results",
        verbose_name=_("enrolment"),
    )
    paper = models.ForeignKey(
        OfflineTestPaper, on_delete=models.PROTECT, related_name="results", verbose_name=_("paper")
    )
    sitting = models.PositiveSmallIntegerField(_("sitting"), help_text="1: the test, 2: the retake")
    score = models.DecimalField(_("score"), max_digits=4, decimal_places=1)
    passed = models.BooleanField(_("passed"))
    corrects = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrected_by",
        verbose_name=_("corrects"),
    )
    reason = models.CharField(_("reason for the correction"), max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(verbose_name=_("entered at"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["enrolment", "sitting", "entered_at"]
        verbose_name = _("offline total test result")
        verbose_name_plural = _("offline total test results")
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "sitting"],
                condition=models.Q(corrects__isnull=True),
                name="offline_sitting_once",
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="offline_score_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id} #{self.sitting}: {self.score}"


class ExamRecord(AppendOnlyRecord):
    """The exam record kept for years (REC-02, REC-04): written once when an attempt is submitted, with every answer
    as scored; never changed (model, queryset and database triggers refuse it) and sealed into the record chain."""

    at = models.DateTimeField(db_index=True, verbose_name=_("time"))
    attempt = models.ForeignKey(
        ExamAttempt, on_delete=models.PROTECT, related_name="+", verbose_name=_("exam attempt")
    )
    enrolment = models.ForeignKey(
        "learning.Enrolment", on_delete=models.PROTECT, related_name="+", verbose_name=_("enrolment")
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("learner")
    )
    kind = models.CharField(max_length=4, verbose_name=_("kind"))
    number = models.PositiveSmallIntegerField(null=True, verbose_name=_("attempt number"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"))
    submitted_by = models.CharField(max_length=10, verbose_name=_("submitted by"))
    score = models.DecimalField(max_digits=6, decimal_places=1, verbose_name=_("score"))
    total = models.DecimalField(max_digits=6, decimal_places=1, verbose_name=_("full marks"))
    passed = models.BooleanField(verbose_name=_("passed"))
    answers = models.JSONField(
        default=list, help_text="[{question, value, correct, score}] as scored", verbose_name=_("answers")
    )
    paper_digest = models.CharField(
        max_length=64, help_text="SHA-256 of the paper as drawn", verbose_name=_("paper digest")
    )
    ip = models.CharField(max_length=64, blank=True, verbose_name=_("IP address"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["enrolment", "at"], name="exam_record_enrolment_at")]
        verbose_name = _("exam record")
        verbose_name_plural = _("exam records")

    def __str__(self) -> str:
        return f"exam record {self.attempt_id}"
