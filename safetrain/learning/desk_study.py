"""The learner's study panel on the desk (首页, LRN-08): each programme's progress, deadline and next step.

Exam status and certificates are the exams panel's (assessment registers it): learning knows nothing above it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from safetrain.accounts.desk import panel_register
from safetrain.accounts.models import Role
from safetrain.learning.models import LessonProgress
from safetrain.learning.selectors import active_enrolments, enrolment_overview, resume_position


def _next_step(enrolment_id: int, row: dict[str, Any]) -> dict[str, Any] | None:
    """The first lesson still to be done, required courses first, and where to play it from (LRN-03)."""
    courses = sorted(row["courses"], key=lambda c: not c["is_required"])
    for course in courses:
        for lesson in course["lessons"]:
            if lesson["completed"]:
                continue
            if lesson["watched"]:  # watched, its quiz still to pass (QZ-01)
                return {
                    "kind": "quiz",
                    "course": course["title"],
                    "lesson": lesson["title"],
                    "url": reverse("learning:quiz", args=[course["code"], lesson["id"]]),
                }
            progress = LessonProgress.objects.filter(
                enrolment_id=enrolment_id, lesson_id=lesson["id"]
            ).first()
            start = (
                resume_position(
                    progress.watched, lesson["duration_seconds"], progress.completed, progress.last_position
                )
                if progress
                else 0.0
            )
            return {
                "kind": "study",
                "course": course["title"],
                "lesson": lesson["title"],
                "start": start,
                "url": reverse("learning:lesson", args=[course["code"], lesson["id"]]),
            }
    return None


def study_panel(request: HttpRequest) -> dict[str, Any] | None:
    """Shown to learners (with or without a programme yet) and to anybody with an active enrolment."""
    user = request.user
    if not user.is_authenticated:
        return None
    enrolments = list(active_enrolments(user))
    if not enrolments and Role.LEARNER not in user.roles():
        return None
    programmes = []
    for row in enrolment_overview(user, enrolments):
        lessons = [lesson for course in row["courses"] for lesson in course["lessons"]]
        required = row["required_minutes"]
        programmes.append(
            {
                "name": row["programme_name"],
                "deadline": next(e.deadline for e in enrolments if e.pk == row["id"]),
                "credited_minutes": row["credited_minutes"],
                "required_minutes": required,
                "percent": min(100, int(100 * row["credited_minutes"] / required)) if required else 0,
                "lessons_done": sum(1 for lesson in lessons if lesson["completed"]),
                "lessons": len(lessons),
                "next": _next_step(row["id"], row),
            }
        )
    return {"programmes": programmes}


def register() -> None:
    panel_register(name="study", template="learning/_desk.html", context=study_panel, order=20)
