"""Exams over the API (EXM-03..05): start or resume, the paper, one request per answer, submit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema

from safetrain.assessment import metrics
from safetrain.assessment.exams import answer_save, attempt_for, attempt_submit, exam_start
from safetrain.assessment.models import AttemptKind, ExamAttempt, QuestionKind
from safetrain.catalog.models import Programme

router = Router(tags=["exams"])


class StartIn(Schema):
    kind: str = Field(AttemptKind.EXAM, description="exam or mock")


class PaperQuestion(Schema):
    id: int
    kind: str
    stem: str
    options: list[str]
    blanks: int
    score: str
    image: str = Field("", description="URL of the question's picture, if it has one")
    answer: list[Any] | None = Field(None, description="the saved answer, as option positions or blank texts")


class AttemptOut(Schema):
    id: int
    kind: str
    number: int | None
    deadline: dt.datetime
    remaining_seconds: int
    submitted: bool
    submitted_by: str
    score: str | None
    total: str
    passed: bool | None
    questions: list[PaperQuestion]


def attempt_out(attempt: ExamAttempt, *, with_paper: bool = True) -> AttemptOut:
    """The paper as the candidate sees it, from the copy made when it was drawn (the key is never sent)."""
    saved = {a.question_id: a.value for a in attempt.answers.all()} if with_paper else {}
    paper = []
    for item in attempt.items if with_paper else []:
        order = item["order"]
        value = saved.get(item["question"])
        if value is not None and item["kind"] != QuestionKind.FILL:
            value = sorted(order.index(v) for v in value)  # original option indexes to the positions shown
        paper.append(
            PaperQuestion(
                id=item["question"],
                kind=item["kind"],
                stem=item["stem"],
                options=[item["options"][i] for i in order],
                blanks=len(item["answer"]) if item["kind"] == QuestionKind.FILL else 0,
                score=item["score"],
                image=f"/assessment/attempts/{attempt.pk}/images/{item['question']}/"
                if item.get("image")
                else "",
                answer=value,
            )
        )
    remaining = (
        max(0, int((attempt.deadline - timezone.now()).total_seconds())) if not attempt.submitted_at else 0
    )
    return AttemptOut(
        id=attempt.pk,
        kind=attempt.kind,
        number=attempt.number,
        deadline=attempt.deadline,
        remaining_seconds=remaining,
        submitted=attempt.submitted_at is not None,
        submitted_by=attempt.submitted_by,
        score=str(attempt.score) if attempt.score is not None else None,
        total=str(attempt.total),
        passed=attempt.passed,
        questions=paper,
    )


@router.post(
    "/exams/{code}/attempts",
    response=AttemptOut,
    summary="Start an exam or mock exam, or resume the open one",
)
def start(request: HttpRequest, code: str, payload: StartIn):
    programme = get_object_or_404(Programme, code=code)
    return attempt_out(
        exam_start(learner=request.auth, programme=programme, kind=payload.kind, request=request)
    )


@router.get(
    "/attempts/{attempt_id}",
    response=AttemptOut,
    summary="The paper with the saved answers and the time left",
)
def get_attempt(request: HttpRequest, attempt_id: int):
    return attempt_out(attempt_for(request.auth, attempt_id))


class AnswerIn(Schema):
    value: list[Any] = Field(
        ..., max_length=10, description="option positions as shown, or one text per blank"
    )


class AnswerOut(Schema):
    question_id: int
    saved_at: dt.datetime


@router.put(
    "/attempts/{attempt_id}/answers/{question_id}", response=AnswerOut, summary="Save one answer (idempotent)"
)
def put_answer(request: HttpRequest, attempt_id: int, question_id: int, payload: AnswerIn):
    answer = answer_save(
        learner=request.auth, attempt_id=attempt_id, question_id=question_id, value=payload.value
    )
    metrics.ANSWERS_SAVED.inc()
    return AnswerOut(question_id=question_id, saved_at=answer.saved_at)


@router.post(
    "/attempts/{attempt_id}/submit", response=AttemptOut, summary="Submit the paper; the result comes back"
)
def submit(request: HttpRequest, attempt_id: int):
    attempt_for(request.auth, attempt_id)  # scoped; submits by deadline when due
    attempt_submit(attempt_id=attempt_id, by="candidate", learner=request.auth)
    return attempt_out(attempt_for(request.auth, attempt_id))


class EventIn(Schema):
    kind: str = Field(
        ..., pattern="^(blur|hidden)$", description="blur: the page lost focus; hidden: tab switched"
    )


class OkOut(Schema):
    ok: bool


@router.post("/attempts/{attempt_id}/events", response=OkOut, summary="The exam page was left (focus or tab)")
def page_left(request: HttpRequest, attempt_id: int, payload: EventIn):
    from safetrain.learning.models import SuspiciousEvent, SuspiciousKind

    attempt = attempt_for(request.auth, attempt_id)
    if attempt.submitted_at is None and attempt.kind == AttemptKind.EXAM:
        SuspiciousEvent.objects.create(
            learner=request.auth,
            enrolment=attempt.enrolment,
            kind=SuspiciousKind.EXAM_LEFT_PAGE,
            evidence={"attempt": attempt.pk, "what": payload.kind},
            at=timezone.now(),
        )
    return OkOut(ok=True)
