"""Question banks (EXM-01). Papers, attempts, mock exams and the wrong-answer book build on them."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    options = models.JSONField(default=list)
    answer = models.JSONField(default=list)
    explanation = models.TextField(_("explanation"), blank=True)
    knowledge_point = models.CharField(_("knowledge point"), max_length=100, blank=True)
    difficulty = models.PositiveSmallIntegerField(
        _("difficulty"), choices=Difficulty.choices, default=Difficulty.MEDIUM
    )
    fingerprint = models.CharField(
        max_length=64, help_text="type, stem and options, normalised: one per bank"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
