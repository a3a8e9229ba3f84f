"""Shared fixtures of the exam tests: a Tianjin-style programme with the demo bank, a learner who studied it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from safetrain.assessment.demo_bank import seed_demo_bank
from safetrain.assessment.models import Question, QuestionKind
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.learning.models import LessonProgress
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import video_of


@pytest.fixture
def programme(world):
    course = course_create(code="TJ-EX", title="继续教育课程", is_public=True)
    lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(120))
    course_publish(course=course)
    programme = published_programme(
        "tj-exam", [course], profile="tianjin_ce", required_minutes=2, min_study_days=0
    )
    seed_demo_bank(programme)
    programme.lesson = lesson
    return programme


def studied(learner, programme) -> None:
    """The learner has watched the whole course (what the crediting engine would have recorded)."""
    enrolment = enrolment_create(learner=learner, programme=programme)
    LessonProgress.objects.create(
        enrolment=enrolment,
        lesson=programme.lesson,
        last_position=120,
        furthest_position=120,
        watched=[[0.0, 120.0]],
        credited_seconds=120,
        completed_at=timezone.now(),
    )


def start(client, programme, **body):
    return client.post(f"/api/v1/exams/{programme.code}/attempts", body, content_type="application/json")


def put(client, attempt, question, value):
    return client.put(
        f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}",
        {"value": value},
        content_type="application/json",
    )


def right_positions(question: dict) -> list:
    """The right answer as the candidate sees it (option positions on this paper)."""
    stored = Question.objects.get(pk=question["id"])
    if stored.kind == QuestionKind.FILL:
        return [accepted[0] for accepted in stored.answer]
    return sorted(question["options"].index(stored.options[i]) for i in stored.answer)
