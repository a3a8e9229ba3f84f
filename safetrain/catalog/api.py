"""Catalogue API: published courses (search), one course with its outline, programmes (INT-03)."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from safetrain.catalog.models import Course, CourseStatus, Programme
from safetrain.catalog.search import search
from safetrain.catalog.selectors import course_outline

router = Router(tags=["catalogue"])


class CourseOut(Schema):
    code: str
    title: str
    introduction: str
    is_public: bool
    construction_category: str
    is_study_only: bool
    teachers: list[str]


class LessonOut(Schema):
    id: int
    title: str
    kind: str
    duration_seconds: float


class ChapterOut(Schema):
    title: str
    lessons: list[LessonOut]


class CourseDetailOut(CourseOut):
    chapters: list[ChapterOut]


class ProgrammeOut(Schema):
    code: str
    name: str
    kind: str
    audience: str
    profile: str
    required_minutes: int
    required_public_minutes: int
    class_hour_minutes: int
    min_study_days: int
    courses: list[str]


def course_out(course: Course) -> dict:
    return {
        "code": course.code,
        "title": course.title,
        "introduction": course.introduction,
        "is_public": course.is_public,
        "construction_category": course.construction_category,
        "is_study_only": course.is_study_only,
        "teachers": [t.name for t in course.teachers.all()],
    }


@router.get(
    "/courses", response=list[CourseOut], summary="Published courses; `q` searches titles and introductions"
)
def courses(
    request: HttpRequest,
    q: str = Query("", max_length=100),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    qs = search(Course.objects.published().prefetch_related("teachers"), q).order_by("code")
    return [course_out(c) for c in qs[offset : offset + limit]]


@router.get(
    "/courses/{code}", response=CourseDetailOut, summary="One published course with its chapters and lessons"
)
def course(request: HttpRequest, code: str):
    item = get_object_or_404(
        Course.objects.prefetch_related("teachers"), code=code, status=CourseStatus.PUBLISHED
    )
    chapters = [
        {
            "title": ch.title,
            "lessons": [
                {"id": ls.pk, "title": ls.title, "kind": ls.kind, "duration_seconds": ls.duration_seconds}
                for ls in ch.lessons.all()
            ],
        }
        for ch in course_outline(item)
    ]
    return {**course_out(item), "chapters": chapters}


@router.get("/programmes", response=list[ProgrammeOut], summary="Published programmes")
def programmes(request: HttpRequest):
    qs = Programme.objects.filter(is_published=True).select_related("profile").prefetch_related("courses")
    return [
        {
            "code": p.code,
            "name": p.name,
            "kind": p.kind,
            "audience": p.audience,
            "profile": p.profile.code,
            "required_minutes": p.required_minutes,
            "required_public_minutes": p.required_public_minutes,
            "class_hour_minutes": p.setting("class_hour_minutes"),
            "min_study_days": p.setting("min_study_days"),
            "courses": [c.code for c in p.courses.all() if c.status == CourseStatus.PUBLISHED],
        }
        for p in qs
    ]
