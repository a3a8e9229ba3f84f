"""Catalogue reads: course outlines, rating summaries, the review cycle (CAT-07), unmapped job codes (CAT-03)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count
from django.utils import timezone

from safetrain.catalog.models import Chapter, Course, CourseStatus, JobCodeMapping, LegalBasis

# CAT-08: a course is flagged for take-down review when rated below this by enough learners.
LOW_RATING_THRESHOLD = 3.0
LOW_RATING_MIN_VOTES = 5


def course_outline(course: Course) -> list[Chapter]:
    return list(course.chapters.prefetch_related("lessons__video").order_by("order"))


def rating_summary(course: Course) -> dict[str, Any]:
    data = course.ratings.aggregate(avg=Avg("stars"), count=Count("id"))
    avg = round(data["avg"], 1) if data["avg"] is not None else None
    return {"avg": avg, "count": data["count"], "low": is_low_rated(avg, data["count"])}


def is_low_rated(avg: float | None, count: int) -> bool:
    return (
        avg is not None
        and count >= getattr(settings, "LOW_RATING_MIN_VOTES", LOW_RATING_MIN_VOTES)
        and (avg < getattr(settings, "LOW_RATING_THRESHOLD", LOW_RATING_THRESHOLD))
    )


def low_rated_courses() -> list[Course]:
    return [
        c
        for c in Course.objects.exclude(status=CourseStatus.WITHDRAWN).with_rating()
        if is_low_rated(c.rating_avg, c.rating_count)
    ]


@dataclass(frozen=True)
class ReviewState:
    course: Course
    due: dt.date | None
    overdue: bool
    changed: list[LegalBasis]


def course_review_states(today: dt.date | None = None) -> list[ReviewState]:
    """Per course: the legal bases changed since the course was last reviewed, and the date it is due (CAT-07)."""
    today = today or timezone.localdate()
    states = []
    for course in Course.objects.exclude(status=CourseStatus.WITHDRAWN).prefetch_related("legal_bases"):
        changed = [
            b
            for b in course.legal_bases.all()
            if b.changed_on and (course.reviewed_on is None or b.changed_on > course.reviewed_on)
        ]
        due = min((b.review_due() for b in changed), default=None)
        states.append(ReviewState(course, due, due is not None and due < today, changed))
    return sorted(states, key=lambda s: (not s.overdue, s.due or dt.date.max, s.course.code))


def overdue_courses(today: dt.date | None = None) -> list[ReviewState]:
    return [s for s in course_review_states(today) if s.overdue]


def unmapped_job_codes(source: str | None = None) -> list[JobCodeMapping]:
    qs = JobCodeMapping.objects.filter(job_type__isnull=True)
    return list(qs.filter(source=source) if source else qs)
