"""Reads for learners: their programmes and courses, and whether they may open a course's media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from safetrain.catalog.models import ConstructionCategory, Course, CourseStatus, Programme, Video
from safetrain.learning.models import Enrolment


def courses_of_enrolment(enrolment: Enrolment) -> QuerySet[Course]:
    """The programme's courses; for Shenzhen construction also the worker's own job-type course (PRG-02), unless
    the job type is a management post or has no course, when the general course alone applies (PRG-03)."""
    condition = Q(programme_courses__programme=enrolment.programme)
    job_type = enrolment.job_type
    if enrolment.programme.includes_job_type_course and job_type is not None and not job_type.is_management:
        condition |= Q(job_types=job_type, construction_category=ConstructionCategory.JOB_TYPE_CASES)
    return Course.objects.filter(condition).filter(status=CourseStatus.PUBLISHED).distinct()


def active_enrolments(learner: Any) -> QuerySet[Enrolment]:
    return (
        Enrolment.objects.active()
        .filter(learner=learner)
        .select_related("programme", "programme__profile", "job_type")
    )


def course_enrolment(learner: Any, course: Course) -> Enrolment | None:
    """The learner's active enrolment that includes this course, if any."""
    if not getattr(learner, "is_authenticated", False):
        return None
    for enrolment in active_enrolments(learner):
        if courses_of_enrolment(enrolment).filter(pk=course.pk).exists():
            return enrolment
    return None


def can_open_course_media(user: Any, course: Course) -> bool:
    """Enrolled learners (active, within the deadline) and operators may open videos and materials."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.sees_everything():
        return True
    return course_enrolment(user, course) is not None


def can_open_video(user: Any, video: Video) -> bool:
    """Checked on every playlist and segment request; cached briefly per user and video."""
    if not getattr(user, "is_authenticated", False):
        return False
    # The day is part of the key: a deadline passing at midnight is never hidden by a cached "yes".
    key = f"video-access:{user.pk}:{video.pk}:{timezone.localdate().isoformat()}"
    allowed = cache.get(key)
    if allowed is None:
        courses = Course.objects.filter(chapters__lessons__video=video).distinct()
        allowed = user.sees_everything() or any(can_open_course_media(user, c) for c in courses)
        cache.set(key, allowed, 60)
    return bool(allowed)


@dataclass(frozen=True)
class ProgrammeCard:
    enrolment: Enrolment
    programme: Programme
    courses: list[Course]
    required_class_hours: Any
    public_minutes: int


def my_programmes(learner: Any) -> list[ProgrammeCard]:
    cards = []
    for enrolment in active_enrolments(learner):
        programme = enrolment.programme
        cards.append(
            ProgrammeCard(
                enrolment=enrolment,
                programme=programme,
                courses=list(courses_of_enrolment(enrolment).prefetch_related("teachers")),
                required_class_hours=programme.required_class_hours,
                public_minutes=programme.required_public_minutes,
            )
        )
    return cards
