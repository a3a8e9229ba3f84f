"""Study API for the player and scripts: enrolments with progress, study sessions and heartbeats (LRN-01..08)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from safetrain.learning.crediting import (
    heartbeat_record,
    lesson_and_enrolment,
    study_session_close,
    study_session_open,
)
from safetrain.learning.models import QuizAttempt, QuizQuestion
from safetrain.learning.quizzes import quiz_start, quiz_submit
from safetrain.learning.selectors import enrolment_overview

router = Router(tags=["learning"])


class SessionIn(Schema):
    lesson_id: int


class SessionOut(Schema):
    id: int
    lesson_id: int
    state: str
    resume_position: float
    furthest_position: float
    duration_seconds: float
    heartbeat_interval: int
    heartbeat_key: str = Field(
        ...,
        description="Send it as the X-Study-Key header of this session's heartbeats (answered faster), together "
        "with the credential that opened the session: the same bearer token or browser session.",
    )


class HeartbeatIn(Schema):
    seq: int = Field(..., ge=1, le=10_000_000)
    position: float = Field(..., ge=-1e6, le=1e7)
    playing: bool
    visible: bool
    focused: bool
    rate: float = Field(..., ge=0, le=16)


class HeartbeatOut(Schema):
    credited_seconds: float
    lesson_credited: float
    furthest_position: float
    completed: bool
    state: str
    next_action: str
    reasons: list[str]
    missing_seconds: float = Field(0.0, description="seconds of the lesson not yet watched (0 once complete)")
    gap_start: float | None = Field(None, description="where the first part not yet watched starts")


class LessonProgressOut(Schema):
    id: int
    title: str
    duration_seconds: float
    furthest_position: float
    credited_minutes: float
    watched: bool
    quiz_required: bool
    quiz_passed: bool
    completed: bool


class CourseProgressOut(Schema):
    code: str
    title: str
    is_public: bool
    is_required: bool
    credited_minutes: float
    completed: bool
    lessons: list[LessonProgressOut]


class EnrolmentOut(Schema):
    id: int
    programme_code: str
    programme_name: str
    deadline: str | None
    required_minutes: int
    required_public_minutes: int
    class_hour_minutes: int
    credited_minutes: float
    public_minutes: float
    study_days: int
    courses: list[CourseProgressOut]


@router.get(
    "/enrollments", response=list[EnrolmentOut], summary="My enrolments with courses, lessons and progress"
)
def enrollments(request: HttpRequest):
    return enrolment_overview(request.auth)


@router.post("/study-sessions", response=SessionOut, summary="Open a study session (closes any other)")
def open_session(request: HttpRequest, payload: SessionIn):
    session = study_session_open(learner=request.auth, lesson_id=payload.lesson_id, request=request)
    progress = session.enrolment.progress.get(lesson=session.lesson)
    return SessionOut(
        id=session.pk,
        lesson_id=session.lesson_id,
        state=session.state,
        resume_position=session.last_position,
        furthest_position=progress.furthest_position,
        duration_seconds=session.lesson.duration_seconds,
        heartbeat_interval=settings.HEARTBEAT_INTERVAL_SECONDS,
        heartbeat_key=session.heartbeat_key,
    )


@router.post(
    "/study-sessions/{session_id}/heartbeats",
    response=HeartbeatOut,
    summary="Report playback",
    description="Only the sign-in that opened the session (its bearer token or browser session) reports on it; "
    "another sign-in, of this or another user, is refused with 403 sign_in_mismatch.",
)
def heartbeat(request: HttpRequest, session_id: int, payload: HeartbeatIn):
    return heartbeat_record(
        learner=request.auth, session_id=session_id, request=request, **payload.dict()
    ).__dict__


@router.post("/study-sessions/{session_id}/close", response=dict, summary="Close a study session")
def close_session(request: HttpRequest, session_id: int):
    session = study_session_close(learner=request.auth, session_id=session_id)
    return {"id": session.pk, "state": session.state}


class QuizQuestionOut(Schema):
    id: int
    kind: str
    stem: str
    options: list[str]


class QuizOut(Schema):
    id: int
    try_number: int
    deadline: str
    seconds_left: int
    questions: list[QuizQuestionOut]


class QuizAnswersIn(Schema):
    answers: dict[str, list[int]]


class QuizResultOut(Schema):
    id: int
    score: int
    passed: bool
    try_number: int
    tries_left: int


def quiz_out(attempt: QuizAttempt) -> QuizOut:
    questions = {q.pk: q for q in QuizQuestion.objects.filter(pk__in=attempt.question_ids)}
    return QuizOut(
        id=attempt.pk,
        try_number=attempt.try_number,
        deadline=attempt.deadline.isoformat(),
        seconds_left=max(0, int((attempt.deadline - timezone.now()).total_seconds())),
        questions=[
            QuizQuestionOut(id=q.pk, kind=q.kind, stem=q.stem, options=q.options)
            for q in (questions[i] for i in attempt.question_ids)
        ],
    )


@router.post("/lessons/{lesson_id}/quiz", response=QuizOut, summary="Start (or continue) the lesson's quiz")
def quiz_begin(request: HttpRequest, lesson_id: int):
    lesson, enrolment = lesson_and_enrolment(learner=request.auth, lesson_id=lesson_id)
    return quiz_out(quiz_start(enrolment=enrolment, lesson=lesson))


@router.post("/quiz-attempts/{attempt_id}/submit", response=QuizResultOut, summary="Submit a quiz try")
def quiz_finish(request: HttpRequest, attempt_id: int, payload: QuizAnswersIn):
    attempt = quiz_submit(learner=request.auth, attempt_id=attempt_id, answers=payload.answers)
    used = QuizAttempt.objects.filter(enrolment=attempt.enrolment, lesson=attempt.lesson).count()
    return QuizResultOut(
        id=attempt.pk,
        score=attempt.score,
        passed=attempt.passed,
        try_number=attempt.try_number,
        tries_left=max(0, attempt.enrolment.programme.profile.quiz_max_tries - used),
    )
