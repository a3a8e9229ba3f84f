"""QZ-01: lesson quizzes — size from the lesson's length, server-timed, 5 tries, pass 80, and the lesson's minutes
count toward the programme only once its quiz is passed."""

from __future__ import annotations

import datetime as dt

import pytest

from safetrain.learning.models import QuizQuestion
from safetrain.learning.quizzes import quiz_size
from safetrain.learning.tests.conftest import Player


@pytest.fixture
def bank(lesson):
    course = lesson.chapter.course
    return [
        QuizQuestion.objects.create(
            course=course, kind="single", stem=f"第{i}题", options=["对的", "错的", "无关"], answer=[0]
        )
        for i in range(30)
    ]


def watch_all(player: Player) -> dict:
    data = {}
    for _ in range(20):
        data = player.beat()
    return data


def start_quiz(client, lesson_id: int):
    return client.post(f"/api/v1/lessons/{lesson_id}/quiz", content_type="application/json")


def submit(client, quiz: dict, right: int) -> dict:
    answers = {str(q["id"]): ([0] if i < right else [1]) for i, q in enumerate(quiz["questions"])}
    response = client.post(
        f"/api/v1/quiz-attempts/{quiz['id']}/submit", {"answers": answers}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_qz_01_the_quiz_size_follows_the_lesson_length(lesson, world):
    from safetrain.learning.models import Enrolment

    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    # 5-minute lesson, 45-minute class hours: max(ceil(5/45*5)=1, ceil(5/10)=1) = 1
    assert quiz_size(enrolment, lesson) == 1
    lesson.video.duration_seconds = 60 * 60  # one hour: max(ceil(60/45*5)=7, 6) = 7
    assert quiz_size(enrolment, lesson) == 7


def test_qz_01_a_lesson_counts_only_after_its_quiz_is_passed(lesson, bank, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    before = start_quiz(client, lesson.pk)
    assert before.status_code == 400
    assert before.json()["code"] == "lesson_not_finished"
    player = Player(client, clock, lesson.pk)
    assert watch_all(player)["next_action"] == "quiz"
    overview = client.get("/api/v1/enrollments").json()[0]["courses"][0]["lessons"][0]
    assert overview["watched"] is True
    assert overview["completed"] is False  # recorded, not yet counted
    quiz = start_quiz(client, lesson.pk).json()
    assert len(quiz["questions"]) == 1
    assert quiz["seconds_left"] == 60
    assert "answer" not in quiz["questions"][0]
    result = submit(client, quiz, right=1)
    assert result["passed"] is True
    assert result["score"] == 100
    lesson_row = client.get("/api/v1/enrollments").json()[0]["courses"][0]["lessons"][0]
    assert lesson_row["completed"] is True


def test_qz_01_five_tries_at_most_and_a_late_answer_scores_nothing(lesson, bank, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    watch_all(Player(client, clock, lesson.pk))
    late = start_quiz(client, lesson.pk).json()
    clock.shift(60 + 10)  # past the 60 s of its one question (and the grace)
    assert submit(client, late, right=1)["score"] == 0
    for _ in range(4):
        quiz = start_quiz(client, lesson.pk).json()
        result = submit(client, quiz, right=0)
        assert result["passed"] is False
    assert result["tries_left"] == 0
    refused = start_quiz(client, lesson.pk)
    assert refused.status_code == 400
    assert refused.json()["code"] == "no_tries_left"


def test_qz_01_a_reload_continues_the_running_try(lesson, bank, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    watch_all(Player(client, clock, lesson.pk))
    first = start_quiz(client, lesson.pk).json()
    clock.shift(20)
    again = start_quiz(client, lesson.pk).json()
    assert again["id"] == first["id"]
    assert again["seconds_left"] == 40
    twice = client.post(
        f"/api/v1/quiz-attempts/{first['id']}/submit", {"answers": {}}, content_type="application/json"
    )
    assert twice.status_code == 200
    again_submit = client.post(
        f"/api/v1/quiz-attempts/{first['id']}/submit", {"answers": {}}, content_type="application/json"
    )
    assert again_submit.json()["code"] == "quiz_submitted"


def test_qz_01_nobody_submits_someone_elses_quiz(lesson, bank, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    watch_all(Player(client, clock, lesson.pk))
    quiz = start_quiz(client, lesson.pk).json()
    stranger = api_client(world.learner_futian)
    response = stranger.post(
        f"/api/v1/quiz-attempts/{quiz['id']}/submit", {"answers": {}}, content_type="application/json"
    )
    assert response.status_code == 404


def test_qz_01_a_bank_too_small_says_so(lesson, world, api_client, clock):
    QuizQuestion.objects.create(
        course=lesson.chapter.course, kind="true_false", stem="唯一", options=["对", "错"], answer=[0]
    )
    lesson.video.duration_seconds = 3600
    lesson.video.save()
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk)
    for _ in range(3):
        player.beat()
    from safetrain.learning.models import LessonProgress

    LessonProgress.objects.filter(lesson=lesson).update(completed_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    response = start_quiz(client, lesson.pk)
    assert response.json()["code"] == "quiz_bank_too_small"


def test_qz_01_the_quiz_page_in_the_browser_flow(lesson, bank, world, api_client, web_client, clock):
    watch_all(Player(api_client(world.learner_nanshan), clock, lesson.pk))
    page_client = web_client(world.learner_nanshan)
    course = lesson.chapter.course
    page = page_client.get(f"/courses/{course.code}/lessons/{lesson.pk}/quiz/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="quiz-timer" data-seconds="60"' in html
    attempt_id = page.context["attempt"].pk
    question = page.context["questions"][0]
    result = page_client.post(
        f"/courses/{course.code}/lessons/{lesson.pk}/quiz/", {"attempt": attempt_id, f"q{question.pk}": "0"}
    )
    assert "通过" in result.content.decode()
    assert page.context["attempt"].__class__.objects.get(pk=attempt_id).passed
