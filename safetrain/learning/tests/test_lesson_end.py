"""LRN-05, QZ-01 on the lesson page: when the video is watched, the page says the lesson is complete only where no
quiz is still to be passed; otherwise it says the video is watched and the quiz comes next."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from safetrain.learning.models import Enrolment, LessonProgress, QuizAttempt, QuizQuestion


def watched_to_the_end(lesson, learner) -> Enrolment:
    enrolment = Enrolment.objects.get(learner=learner)
    LessonProgress.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        watched=[[0.0, 300.0]],
        credited_seconds=300.0,
        furthest_position=300.0,
        last_position=300.0,
        completed_at=enrolment.created_at,
    )
    return enrolment


def quiz_bank(lesson) -> None:
    for i in range(5):
        QuizQuestion.objects.create(
            course=lesson.chapter.course, kind="single", stem=f"第{i}题", options=["对", "错"], answer=[0]
        )


def lesson_page(lesson, client) -> str:
    url = reverse("learning:lesson", args=[lesson.chapter.course.code, lesson.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_lrn_05_qz_01_a_watched_video_with_its_quiz_to_pass_says_so_and_not_lesson_complete(
    lesson, world, web_client
):
    quiz_bank(lesson)
    watched_to_the_end(lesson, world.learner_nanshan)
    page = lesson_page(lesson, web_client(world.learner_nanshan))
    assert "本课已完成" not in page  # neither shown nor kept for the player to show at the end of the video
    note = page[page.index('data-testid="lesson-watched"') :]
    assert note.startswith(
        'data-testid="lesson-watched">✓ 视频已看完，请完成本课随堂测试：测验通过后本课才算完成。'
    )
    link = page[page.index('data-testid="quiz-link"') :]
    assert link.startswith('data-testid="quiz-link"><a')  # the quiz is offered at once, not hidden
    assert 'data-msg-done="视频已看完，请完成本课随堂测试' in page  # what the player says when the video ends


def test_lrn_05_qz_01_before_the_video_is_watched_neither_message_shows(lesson, world, web_client):
    quiz_bank(lesson)
    page = lesson_page(lesson, web_client(world.learner_nanshan))
    assert 'data-testid="lesson-watched" hidden' in page
    assert 'data-testid="quiz-link" hidden' in page


def test_lrn_05_qz_01_the_lesson_is_complete_once_its_quiz_is_passed(lesson, world, web_client):
    quiz_bank(lesson)
    enrolment = watched_to_the_end(lesson, world.learner_nanshan)
    QuizAttempt.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        try_number=1,
        passed=True,
        score=100,
        started_at=timezone.now(),
        deadline=timezone.now(),
        submitted_at=timezone.now(),
    )
    page = lesson_page(lesson, web_client(world.learner_nanshan))
    assert 'data-testid="lesson-done">✓ 本课已完成' in page
    assert 'data-testid="lesson-watched"' not in page


def test_lrn_05_without_a_quiz_a_watched_video_completes_the_lesson(lesson, world, web_client):
    watched_to_the_end(lesson, world.learner_nanshan)
    page = lesson_page(lesson, web_client(world.learner_nanshan))
    assert 'data-testid="lesson-done">✓ 本课已完成' in page
    assert 'data-testid="lesson-watched"' not in page
    assert 'data-testid="quiz-link" hidden' in page
