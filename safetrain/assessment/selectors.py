"""Reads of exams for staff pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from safetrain.assessment import exam_checks
from safetrain.assessment.models import AttemptKind, ExamAttempt, Question, QuestionKind
from safetrain.catalog.models import ExamReview
from safetrain.proctoring.models import CheckPurpose, FaceCheck

LETTERS = "ABCDEFGH"


def exams_with_identity_failures(*, viewer: Any) -> QuerySet[ExamAttempt]:
    """Exam attempts in which an identity check was not passed (FACE-01 during the exam): ended by it, or flagged
    for review; of the learners the viewer may see, newest first, with the number of failed checks."""
    people = get_user_model().objects.visible_to(viewer).values("pk")
    failed = (
        FaceCheck.objects.filter(purpose=CheckPurpose.EXAM, exam_attempt_id=OuterRef("pk"), passed=False)
        .values("exam_attempt_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        ExamAttempt.objects.filter(kind=AttemptKind.EXAM, enrolment__learner__in=people)
        .filter(Q(face_flagged_at__isnull=False) | Q(submitted_by=exam_checks.ENDED_BY))
        .select_related("enrolment__learner", "enrolment__programme", "enrolment__organisation")
        .annotate(failed_checks=Coalesce(Subquery(failed), 0))
        .order_by("-started_at", "-pk")
    )


def review_level(attempt: ExamAttempt) -> str:
    """How much of a marked paper the candidate sees (EXM-06): all of a mock exam; of an exam what the region
    profile allows (RegionProfile.exam_review: none, own or full)."""
    if attempt.kind == AttemptKind.MOCK:
        return ExamReview.FULL
    return attempt.enrolment.programme.profile.exam_review


def option_letter(position: int) -> str:
    return LETTERS[position] if position < len(LETTERS) else str(position + 1)


def attempt_review(attempt: ExamAttempt) -> dict[str, Any]:
    """The marked paper as the candidate saw it (options in the order shown, lettered A, B …): each question, the
    candidate's answer, whether it was right and, where the level is "full", the right answer and the explanation.
    Only for a submitted attempt; the level comes from review_level."""
    level = review_level(attempt)
    if attempt.submitted_at is None or level == ExamReview.NONE:
        return {"level": level, "items": []}
    answers = {a.question_id: a for a in attempt.answers.all()}
    full = level == ExamReview.FULL
    explanations = (
        dict(
            Question.objects.filter(pk__in=[i["question"] for i in attempt.items]).values_list(
                "pk", "explanation"
            )
        )
        if full
        else {}
    )
    kinds = dict(QuestionKind.choices)
    items = []
    for number, item in enumerate(attempt.items, start=1):
        answer = answers.get(item["question"])
        given = list(answer.value) if answer is not None else []
        kind = item["kind"]
        if kind == QuestionKind.FILL:
            options: list[dict[str, Any]] = []
            given_text = "；".join(str(v) for v in given if str(v).strip())
            right_text = "；".join("/".join(group) for group in item["answer"]) if full else ""
        else:
            order = item["order"]  # shown position -> original option index
            options = [
                {
                    "letter": option_letter(position),
                    "text": item["options"][original],
                    "chosen": original in given,
                    "right": full and original in item["answer"],
                }
                for position, original in enumerate(order)
            ]
            given_text = "".join(o["letter"] for o in options if o["chosen"])
            right_text = "".join(o["letter"] for o in options if o["right"])
        items.append(
            {
                "number": number,
                "question": item["question"],
                "kind": kind,
                "kind_label": kinds.get(kind, kind),
                "stem": item["stem"],
                "image": item.get("image", ""),
                "score": item["score"],
                "earned": answer.score if answer is not None and answer.score is not None else 0,
                "options": options,
                "answered": bool(given_text),
                "given": given_text,
                "correct": bool(answer and answer.correct),
                "right": right_text,
                "explanation": explanations.get(item["question"], ""),
            }
        )
    return {"level": level, "items": items}
