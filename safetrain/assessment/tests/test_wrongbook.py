"""EXM-06: the wrong-answer book collects what a learner got wrong in mock exams, exams and lesson quizzes, shows
the right answer and the explanation, and a question leaves the book when it is answered right again."""

from __future__ import annotations

from safetrain.assessment.models import Question
from safetrain.assessment.tests.conftest import put, right_positions, start, studied
from safetrain.assessment.wrongbook import wrong_items
from safetrain.learning.models import QuizAttempt, QuizQuestion


def test_exm_06_wrong_answers_of_a_mock_exam_are_practised_until_right(
    programme, world, api_client, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    mock = start(client, programme, kind="mock").json()
    singles = [q for q in mock["questions"] if q["kind"] == "single"]
    put(client, mock, singles[0], right_positions(singles[0]))
    wrong = [next(i for i in range(len(q["options"])) if [i] != right_positions(q)) for q in singles[1:3]]
    for q, value in zip(singles[1:3], wrong, strict=True):
        put(client, mock, q, [value])
    client.post(f"/api/v1/attempts/{mock['id']}/submit")
    book = wrong_items(learner)
    assert {i.question_id for i in book} == {singles[1]["id"], singles[2]["id"]}
    page = web_client(learner)
    text = page.get("/assessment/wrong/").content.decode()
    assert text.count('data-testid="wrong-item"') == 2
    assert singles[1]["stem"] in text
    assert "正确答案" in text
    # Wrong again: stays; right: leaves the book.
    target = Question.objects.get(pk=singles[1]["id"])
    still = [i for i in range(len(target.options)) if i not in target.answer][0]
    page.post(
        "/assessment/wrong/", {"source": "exam", "question": target.pk, "kind": "single", "option": [still]}
    )
    assert len(wrong_items(learner)) == 2
    done = page.post(
        "/assessment/wrong/",
        {"source": "exam", "question": target.pk, "kind": "single", "option": target.answer},
    )
    assert done.status_code == 302
    assert [i.question_id for i in wrong_items(learner)] == [singles[2]["id"]]
    # Someone else's book is their own; a question not in the book is refused.
    assert wrong_items(world.learner_futian) == []
    refused = page.post(
        "/assessment/wrong/", {"source": "exam", "question": 999999, "kind": "single", "option": [0]}
    )
    assert refused.status_code == 302


def test_exm_06_lesson_quiz_mistakes_are_in_the_book_too(programme, world):
    from django.utils import timezone

    from safetrain.learning.services import enrolment_create

    learner = world.learner_nanshan
    enrolment = enrolment_create(learner=learner, programme=programme)
    course = programme.courses.first()
    question = QuizQuestion.objects.create(
        course=course,
        kind="single",
        stem="安全帽的作用？",
        options=["防护头部", "装饰"],
        answer=[0],
        explanation="防护",
    )
    QuizAttempt.objects.create(
        enrolment=enrolment,
        lesson=programme.lesson,
        try_number=1,
        question_ids=[question.pk],
        answers={str(question.pk): [1]},
        started_at=timezone.now(),
        deadline=timezone.now(),
        submitted_at=timezone.now(),
        score=0,
        passed=False,
    )
    [item] = wrong_items(learner)
    assert (item.source, item.question_id, item.explanation, item.given) == ("quiz", question.pk, "防护", [1])
