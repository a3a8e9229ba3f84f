"""Exams over the API (EXM-03..05): start or resume, the paper, one request per answer, submit; the identity checks
during an exam (FACE-01): whether one is due, its challenge and its camera frames."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.renderers import JSONRenderer

from safetrain.assessment import metrics
from safetrain.assessment.exams import (
    answer_save,
    attempt_for,
    attempt_submit,
    exam_face_challenge,
    exam_face_check,
    exam_face_state,
    exam_page_key,
    exam_start,
)
from safetrain.assessment.models import AttemptKind, ExamAttempt, QuestionKind
from safetrain.catalog.models import Programme
from safetrain.proctoring.api import ChallengeOut, FaceCheckIn, challenge_out, frames_decode

router = Router(tags=["exams"])
_RENDERER = JSONRenderer()  # the API's (config.api uses ninja's default renderer)


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
    submitted_by: str = Field(
        ..., description="candidate, deadline, or face_check (ended: an identity check was not passed)"
    )
    score: str | None
    total: str
    passed: bool | None
    flagged_for_review: bool = Field(
        False, description="an identity check during the exam was not passed (profile rule: flag for review)"
    )
    questions: list[PaperQuestion]
    page_key: str = Field(
        "",
        description="the open paper's key for this sign-in: send it as the X-Exam-Key header with each answer "
        "(empty once the paper is submitted)",
    )


def attempt_out(attempt: ExamAttempt, *, with_paper: bool = True, request: Any = None) -> AttemptOut:
    """The paper as the candidate sees it, from the copy made when it was drawn (the answer key is never sent),
    with the page key of the sign-in that asked (`request`)."""
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
        flagged_for_review=attempt.face_flagged_at is not None,
        questions=paper,
        page_key=exam_page_key(attempt, request),
    )


@router.post(
    "/exams/{code}/attempts",
    response=AttemptOut,
    summary="Start an exam or mock exam, or resume the open one",
)
def start(request: HttpRequest, code: str, payload: StartIn):
    programme = get_object_or_404(Programme, code=code)
    return attempt_out(
        exam_start(learner=request.auth, programme=programme, kind=payload.kind, request=request),
        request=request,
    )


@router.get(
    "/attempts/{attempt_id}",
    response=AttemptOut,
    summary="The paper with the saved answers and the time left",
)
def get_attempt(request: HttpRequest, attempt_id: int):
    return attempt_out(attempt_for(request.auth, attempt_id), request=request)


class AnswerIn(Schema):
    value: list[Any] = Field(
        ..., max_length=10, description="option positions as shown, or one text per blank"
    )


class AnswerOut(Schema):
    question_id: int
    saved_at: dt.datetime


def answer_out_json(question_id: int, saved_at: dt.datetime) -> dict[str, Any]:
    """AnswerOut as this API renders it (its JSON encoder's forms), for the hot path (assessment.hotpath)."""
    out = AnswerOut(question_id=question_id, saved_at=saved_at).model_dump()
    return json.loads(_RENDERER.render(None, out, response_status=200))


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


# Identity checks during the exam (FACE-01, GD#11) ----------------------------------------------------------------


class FaceStateOut(Schema):
    due: bool = Field(
        ..., description="a check is due now: pass it (the paper cannot be submitted meanwhile)"
    )
    seconds_left: int | None = Field(None, description="time left to pass the due check")
    tries_left: int
    submitted: bool
    ended: bool = Field(..., description="the attempt was ended because a check was not passed")


@router.get(
    "/attempts/{attempt_id}/face-check",
    response=FaceStateOut,
    summary="Whether an identity check is due during the exam (asked every few seconds by the exam page)",
)
def face_state(request: HttpRequest, attempt_id: int):
    return exam_face_state(learner=request.auth, attempt_id=attempt_id)


@router.post(
    "/attempts/{attempt_id}/face-challenges",
    response=ChallengeOut,
    summary="Start the identity check due during the exam: the liveness challenge to perform",
)
def face_challenge(request: HttpRequest, attempt_id: int):
    return challenge_out(exam_face_challenge(learner=request.auth, attempt_id=attempt_id))


class ExamFaceCheckOut(Schema):
    id: int
    passed: bool
    reason: str
    message: str
    distance: float | None
    signed_out: bool = Field(False, description="always false: a check during an exam signs no one out")
    tries_left: int
    ended: bool = Field(
        ..., description="the check was not passed and the profile ends the attempt: it is over"
    )
    flagged: bool = Field(..., description="the check was not passed and the attempt is flagged for review")


@router.post(
    "/attempts/{attempt_id}/face-checks",
    response=ExamFaceCheckOut,
    summary="Verify the candidate in front of the camera during the exam",
)
def face_check(request: HttpRequest, attempt_id: int, payload: FaceCheckIn):
    outcome = exam_face_check(
        learner=request.auth,
        attempt_id=attempt_id,
        challenge_id=payload.challenge_id,
        frames=frames_decode(payload.frames),
        request=request,
    )
    check = outcome["check"]
    return ExamFaceCheckOut(
        id=check.pk,
        passed=check.passed,
        reason=check.reason,
        message=outcome["message"],
        distance=check.distance,
        tries_left=outcome["tries_left"],
        ended=outcome["ended"],
        flagged=outcome["flagged"],
    )
