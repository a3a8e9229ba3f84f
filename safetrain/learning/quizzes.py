"""Lesson quizzes (随堂测试, QZ-01): after a lesson, max(5 per class hour, 1 per 10 video minutes) questions drawn
at random from the course's bank, 60 s each timed by the server, up to 5 tries, pass mark 80 (profile values).
Until the quiz is passed the lesson's minutes stay recorded but do not count toward the programme."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.catalog.models import Lesson
from safetrain.core.errors import DomainError, NotFound
from safetrain.learning.models import Enrolment, LessonProgress, QuizAttempt, QuizQuestion
from safetrain.records.services import audit_log

GRACE_SECONDS = 5  # network delay allowed after the server's deadline


def quiz_required(lesson: Lesson) -> bool:
    return QuizQuestion.objects.filter(course_id=lesson.chapter.course_id, is_active=True).exists()


def quiz_size(enrolment: Enrolment, lesson: Lesson) -> int:
    profile = enrolment.programme.profile
    minutes = lesson.duration_seconds / 60
    per_hour = math.ceil(
        minutes / enrolment.programme.setting("class_hour_minutes") * profile.quiz_questions_per_class_hour
    )
    per_ten = math.ceil(minutes / 10 * profile.quiz_questions_per_10_minutes)
    return max(1, per_hour, per_ten)


def quiz_passed(enrolment_id: int, lesson_id: int) -> bool:
    return QuizAttempt.objects.filter(enrolment_id=enrolment_id, lesson_id=lesson_id, passed=True).exists()


@transaction.atomic
def quiz_start(*, enrolment: Enrolment, lesson: Lesson, rng: random.Random | None = None) -> QuizAttempt:
    progress = LessonProgress.objects.filter(enrolment=enrolment, lesson=lesson).first()
    if progress is None or not progress.completed:
        raise DomainError("lesson_not_finished", _("Finish watching the lesson before its quiz."))
    if quiz_passed(enrolment.pk, lesson.pk):
        raise DomainError("quiz_passed", _("You have already passed this quiz."))
    profile = enrolment.programme.profile
    tries = QuizAttempt.objects.select_for_update().filter(enrolment=enrolment, lesson=lesson)
    open_attempt = tries.filter(submitted_at__isnull=True, deadline__gt=timezone.now()).first()
    if open_attempt:
        return open_attempt  # a reload continues the running try, it does not draw a new one
    used = tries.count()
    if used >= profile.quiz_max_tries:
        raise DomainError(
            "no_tries_left",
            _("All %(n)d tries of this quiz are used. Contact your training organiser.")
            % {"n": profile.quiz_max_tries},
        )
    bank = list(
        QuizQuestion.objects.filter(course_id=lesson.chapter.course_id, is_active=True).values_list(
            "pk", flat=True
        )
    )
    size = quiz_size(enrolment, lesson)
    if len(bank) < size:
        raise DomainError(
            "quiz_bank_too_small",
            _(
                "The course's quiz bank has %(have)d questions but the quiz "
                "needs %(need)d; the operator must add questions."
            )
            % {"have": len(bank), "need": size},
        )
    chosen = (rng or random.SystemRandom()).sample(bank, size)
    now = timezone.now()
    attempt = QuizAttempt.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        try_number=used + 1,
        question_ids=chosen,
        started_at=now,
        deadline=now + dt.timedelta(seconds=profile.quiz_seconds_per_question * size),
    )
    audit_log(
        action="quiz.start",
        obj=attempt,
        organisation_id=enrolment.organisation_id,
        detail={"lesson": lesson.pk, "try": attempt.try_number, "questions": size},
    )
    return attempt


def _correct(question: QuizQuestion, given: Any) -> bool:
    try:
        return sorted(int(i) for i in (given or [])) == sorted(question.answer)
    except (TypeError, ValueError):
        return False


@transaction.atomic
def quiz_submit(*, learner: Any, attempt_id: int, answers: dict[str, list[int]]) -> QuizAttempt:
    attempt = (
        QuizAttempt.objects.select_for_update()
        .select_related("enrolment__programme__profile")
        .filter(pk=attempt_id, enrolment__learner=learner)
        .first()
    )
    if attempt is None:
        raise NotFound("quiz_not_found", _("This quiz does not exist."))
    if attempt.submitted_at is not None:
        raise DomainError("quiz_submitted", _("This try has been submitted already."))
    now = timezone.now()
    late = now > attempt.deadline + dt.timedelta(seconds=GRACE_SECONDS)
    questions = {q.pk: q for q in QuizQuestion.objects.filter(pk__in=attempt.question_ids)}
    right = (
        0 if late else sum(_correct(questions[qid], answers.get(str(qid))) for qid in attempt.question_ids)
    )
    attempt.answers = {} if late else {str(k): v for k, v in answers.items() if int(k) in questions}
    attempt.score = round(100 * right / len(attempt.question_ids))
    attempt.passed = attempt.score >= attempt.enrolment.programme.profile.quiz_pass_mark
    attempt.submitted_at = now
    attempt.save()
    audit_log(
        action="quiz.submit",
        obj=attempt,
        organisation_id=attempt.enrolment.organisation_id,
        detail={"score": attempt.score, "passed": attempt.passed, "late": late},
    )
    return attempt
