"""Courses, chapters, lessons, teachers, materials, legal bases, ratings and Q&A (CAT-01, CAT-04, CAT-06..08)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Avg, Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.catalog.models.qualifications import JobType, QualificationItem
from safetrain.catalog.models.videos import Video


class Teacher(models.Model):
    name = models.CharField(pgettext_lazy("person", "name"), max_length=60)
    title = models.CharField(_("professional title"), max_length=100, blank=True)
    qualifications = models.TextField(_("qualifications"), blank=True)
    introduction = models.TextField(_("introduction"), blank=True)
    photo = models.ImageField(_("photo"), upload_to="teachers/", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("teacher")
        verbose_name_plural = _("teachers")

    def __str__(self) -> str:
        return self.name


class ConstructionCategory(models.TextChoices):
    """The four course categories of construction workers' training (CAT-01, S0 8)."""

    GENERAL = "general", _("Pre-job general safety")
    JOB_TYPE_CASES = "job_type_cases", _("Typical accident cases by job type")
    HAZARDOUS_WORKS = "hazardous_works", _("Hazardous sub-projects")
    SELF_TRAINING = "self_training", _("Enterprise self-training")


class CourseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class CourseQuerySet(models.QuerySet):
    def published(self) -> CourseQuerySet:
        return self.filter(status=CourseStatus.PUBLISHED)

    def with_rating(self) -> CourseQuerySet:
        return self.annotate(rating_avg=Avg("ratings__stars"), rating_count=Count("ratings", distinct=True))


class Course(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    introduction = models.TextField(_("introduction"), blank=True)
    cover = models.ImageField(_("cover"), upload_to="covers/", blank=True)
    teachers = models.ManyToManyField(Teacher, verbose_name=_("teachers"), blank=True, related_name="courses")
    is_public = models.BooleanField(
        _("public course"),
        default=False,
        help_text=_("Tick for a public course; otherwise it is a professional course."),
    )
    construction_category = models.CharField(
        _("construction category"), max_length=20, choices=ConstructionCategory.choices, blank=True
    )
    is_study_only = models.BooleanField(
        _("study only (no exam)"),
        default=False,
        help_text=_("Hazardous sub-project courses: studied and recorded, never examined."),
    )
    qualification_items = models.ManyToManyField(
        QualificationItem, blank=True, related_name="courses", verbose_name=_("qualification items")
    )
    job_types = models.ManyToManyField(
        JobType, blank=True, related_name="courses", verbose_name=_("job types")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=CourseStatus.choices, default=CourseStatus.DRAFT
    )
    reviewed_on = models.DateField(_("content last reviewed"), null=True, blank=True)
    search_document = models.TextField(
        editable=False,
        blank=True,
        help_text="CJK bigrams and words for search",
        verbose_name=_("search text"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # Derived from the title and introduction on every save, whoever saves (service or admin).
        from safetrain.catalog.search import search_document

        self.search_document = search_document(self.title, self.introduction)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_document"}
        super().save(*args, **kwargs)

    def lessons(self) -> models.QuerySet[Lesson]:
        return (
            Lesson.objects.filter(chapter__course=self)
            .select_related("video")
            .order_by("chapter__order", "order")
        )

    @property
    def duration_seconds(self) -> float:
        return sum(lesson.duration_seconds for lesson in self.lessons())


class Chapter(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="chapters")
    title = models.CharField(_("title"), max_length=200)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["course", "order"]
        verbose_name = _("chapter")
        verbose_name_plural = _("chapters")

    def __str__(self) -> str:
        return self.title


class LessonKind(models.TextChoices):
    VIDEO = "video", _("Video")
    DOCUMENT = "document", _("Document")


class Lesson(models.Model):
    """A video (its duration comes from the file) or a document (reading never counts as study time, NAT-01)."""

    chapter = models.ForeignKey(
        Chapter, on_delete=models.CASCADE, related_name="lessons", verbose_name=_("chapter")
    )
    title = models.CharField(_("title"), max_length=200)
    order = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=10, choices=LessonKind.choices, default=LessonKind.VIDEO)
    video = models.ForeignKey(
        Video,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lessons",
        verbose_name=_("video"),
    )
    document = models.FileField(_("document"), upload_to="documents/", blank=True)

    class Meta:
        ordering = ["chapter", "order"]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="video", video__isnull=False) | Q(kind="document")),
                name="lesson_video_has_video",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def duration_seconds(self) -> float:
        if self.kind == LessonKind.VIDEO and self.video_id:
            return self.video.duration_seconds or 0
        return 0


class CourseMaterial(models.Model):
    """导学资料 (CAT-06): served only to learners enrolled in a programme with this course."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="materials")
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to="materials/")
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course", "title"]
        verbose_name = _("course material")
        verbose_name_plural = _("course materials")

    def __str__(self) -> str:
        return self.title


class LegalBasisKind(models.TextChoices):
    LAW = "law", _("Law or regulation")
    STANDARD = "standard", _("Standard")


# CAT-07: a course resting on a changed law is due within 2 months, on a changed standard within 3.
REVIEW_MONTHS = {LegalBasisKind.LAW: 2, LegalBasisKind.STANDARD: 3}


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    last_day = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return dt.date(year, month, min(day.day, last_day))


class LegalBasis(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="legal_bases")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=LegalBasisKind.choices)
    document_no = models.CharField(_("document number"), max_length=100, blank=True)
    effective_date = models.DateField(_("in force since"))
    changed_on = models.DateField(_("last changed"), null=True, blank=True)

    class Meta:
        ordering = ["course", "title"]
        verbose_name = _("legal basis")
        verbose_name_plural = _("legal bases")

    def __str__(self) -> str:
        return self.title

    def review_due(self) -> dt.date | None:
        """When the course must be updated for this basis' latest change (None: no change to follow)."""
        if self.changed_on is None:
            return None
        return add_months(self.changed_on, REVIEW_MONTHS[LegalBasisKind(self.kind)])


class CourseRating(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="ratings")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stars = models.PositiveSmallIntegerField(_("stars"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["course", "learner"], name="course_rating_once"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="course_rating_stars_1_5"),
        ]
        verbose_name = _("course rating")
        verbose_name_plural = _("course ratings")

    def __str__(self) -> str:
        return f"{self.course_id}: {self.stars}"


class CourseQuestion(models.Model):
    """网上答疑 (CAT-08): a learner's question and a teacher's or operator's answer."""

    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="questions", verbose_name=_("course")
    )
    asker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("asked by")
    )
    text = models.TextField(_("question"))
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("course question")
        verbose_name_plural = _("course questions")

    def __str__(self) -> str:
        return self.text[:40]
