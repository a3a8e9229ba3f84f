"""The wrong-answer book (错题本, EXM-06): every question a learner got wrong in lesson quizzes, mock exams and exams,
with the right answer and the explanation, and re-practice until it is answered right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.assessment.exams import is_correct
from safetrain.assessment.models import AttemptKind, ExamAnswer, Question, QuestionKind, WrongAnswerPractice
from safetrain.catalog.models import ExamReview
from safetrain.core.errors import DomainError, NotFound
from safetrain.learning.models import QuizAttempt, QuizQuestion


@dataclass
class WrongItem:
    source: str  # exam or quiz
    question_id: int
    kind: str
    stem: str
    options: list[str]
    answer: list[Any]
    explanation: str
    given: list[Any]
    at: Any
    where: str
    programme_code: str = ""
    programme_name: str = ""
    knowledge_point: str = ""


@dataclass
class WrongFilters:
    """What the learner narrows the book to (EXM-06): a programme code, a question type, a knowledge point."""

    programme: str = ""
    kind: str = ""
    point: str = ""

    def keep(self, item: WrongItem) -> bool:
        return (
            (not self.programme or item.programme_code == self.programme)
            and (not self.kind or item.kind == self.kind)
            and (not self.point or item.knowledge_point == self.point)
        )


def wrong_items(learner: Any, filters: WrongFilters | None = None) -> list[WrongItem]:
    """Wrong answers not yet mastered, newest first; a question counts once (its latest wrong answer). Questions of
    an exam (not a mock) whose region profile does not show right answers after the exam are left out."""
    items: dict[tuple[str, int], WrongItem] = {}
    answers = (
        ExamAnswer.objects.filter(
            attempt__enrolment__learner=learner, attempt__submitted_at__isnull=False, correct=False
        )
        .select_related("attempt__enrolment__programme__profile")
        .order_by("saved_at")
    )
    by_attempt_item = {}
    for answer in answers:
        attempt = answer.attempt
        programme = attempt.enrolment.programme
        if attempt.kind == AttemptKind.EXAM and programme.profile.exam_review != ExamReview.FULL:
            continue
        item = by_attempt_item.setdefault(attempt.pk, {i["question"]: i for i in attempt.items}).get(
            answer.question_id
        )
        if item is None:
            continue
        items[("exam", answer.question_id)] = WrongItem(
            "exam",
            answer.question_id,
            item["kind"],
            item["stem"],
            item["options"],
            item["answer"],
            "",
            answer.value,
            attempt.submitted_at,
            programme.name,
            programme.code,
            programme.name,
        )
    quizzes = (
        QuizAttempt.objects.filter(enrolment__learner=learner, submitted_at__isnull=False)
        .select_related("enrolment__programme")
        .order_by("submitted_at")
    )
    quiz_questions = QuizQuestion.objects.in_bulk({int(q) for a in quizzes for q in a.answers})
    for attempt in quizzes:
        for qid, given in attempt.answers.items():
            question = quiz_questions.get(int(qid))
            if question is None or sorted(given or []) == sorted(question.answer):
                continue
            items[("quiz", question.pk)] = WrongItem(
                "quiz",
                question.pk,
                question.kind,
                question.stem,
                question.options,
                question.answer,
                question.explanation,
                given or [],
                attempt.submitted_at,
                _("Lesson quiz"),
                attempt.enrolment.programme.code,
                attempt.enrolment.programme.name,
            )
    details = {
        pk: (explanation, point)
        for pk, explanation, point in Question.objects.filter(
            pk__in=[k[1] for k in items if k[0] == "exam"]
        ).values_list("pk", "explanation", "knowledge_point")
    }
    for (source, pk), item in items.items():
        if source == "exam":
            item.explanation, item.knowledge_point = details.get(pk, ("", ""))
    mastered = {
        (p.source, p.question_id): p.mastered_at
        for p in WrongAnswerPractice.objects.filter(learner=learner, mastered_at__isnull=False)
    }
    out = [i for key, i in items.items() if not (key in mastered and mastered[key] >= i.at)]
    if filters is not None:
        out = [i for i in out if filters.keep(i)]
    return sorted(out, key=lambda i: i.at, reverse=True)


@transaction.atomic
def practise(*, learner: Any, source: str, question_id: int, value: list[Any]) -> tuple[bool, WrongItem]:
    """Answer a question of the book again (original option indexes, or the blanks' texts). Right: mastered."""
    item = next((i for i in wrong_items(learner) if (i.source, i.question_id) == (source, question_id)), None)
    if item is None:
        raise NotFound("not_in_book", _("This question is not in your wrong-answer book."))
    if item.kind != QuestionKind.FILL and (
        not isinstance(value, list)
        or any(not isinstance(v, int) or not 0 <= v < len(item.options) for v in value)
    ):
        raise DomainError("invalid_answer", _("A chosen option does not exist."), field="value")
    right = is_correct(item.kind, item.answer, value)
    practice, _created = WrongAnswerPractice.objects.select_for_update().get_or_create(
        learner=learner, source=source, question_id=question_id
    )
    practice.tries += 1
    if right:
        practice.mastered_at = timezone.now()
    practice.save()
    return right, item
