"""Taking an exam (EXM-03..05, EXM-07) and mock exams (EXM-06): start or resume, save every answer as it is given,
submit, and submit by the server at the deadline even when the candidate is gone; identity checks during an exam
(FACE-01, assessment.exam_checks for their timing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.assessment import exam_checks
from safetrain.assessment.models import (
    AttemptKind,
    ExamAnswer,
    ExamAttempt,
    ExamRecord,
    PaperRule,
    QuestionKind,
)
from safetrain.assessment.papers import paper_draw, paper_rule_from_preset, rule_total
from safetrain.catalog.models import Programme
from safetrain.core.errors import DomainError, NotFound, PermissionDenied
from safetrain.core.hotpath.keys import page_key
from safetrain.core.http import client_ip, user_agent
from safetrain.learning.models import Enrolment
from safetrain.learning.selectors import (
    EnrolmentStanding,
    active_enrolments,
    enrolment_overview,
    enrolment_standing,
)
from safetrain.records.services import audit_log

logger = logging.getLogger(__name__)
MOBILE = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|MicroMessenger|Windows Phone", re.I)
FACE_CHECK_FRESH_MINUTES = 10


class Conflict(DomainError):
    status_code = 409


def is_mobile(agent: str) -> bool:
    return bool(MOBILE.search(agent or ""))


def _standing_of(row: dict[str, Any] | None) -> EnrolmentStanding:
    """An enrolment_overview row's totals (None: the enrolment is not in the overview, so not active)."""
    if row is None:
        return EnrolmentStanding(
            active=False,
            required_minutes=0,
            credited_minutes=0.0,
            required_public_minutes=0,
            public_minutes=0.0,
            study_days=0,
        )
    return EnrolmentStanding(
        active=True,
        required_minutes=row["required_minutes"],
        credited_minutes=row["credited_minutes"],
        required_public_minutes=row["required_public_minutes"],
        public_minutes=row["public_minutes"],
        study_days=row["study_days"],
        unfinished_required_courses=tuple(
            c["title"] for c in row["courses"] if c["is_required"] and not c["completed"]
        ),
        quizzes_waiting=tuple(
            lesson["title"]
            for course in row["courses"]
            for lesson in course["lessons"]
            if lesson["watched"] and lesson["quiz_required"] and not lesson["quiz_passed"]
        ),
    )


def unlock_problems(enrolment: Enrolment, overview: list[dict[str, Any]] | None = None) -> list[str]:
    """What the learner still has to do before the exam (LRN-06), in words; empty when the exam is open.
    `overview` is the learner's enrolment_overview when the caller already has it; without it only this
    enrolment's own totals are read."""
    if overview is None:
        standing = enrolment_standing(enrolment)
    else:
        standing = _standing_of(next((r for r in overview if r["id"] == enrolment.pk), None))
    if not standing.active:
        return [_("The enrolment is not active (its deadline has passed or it was cancelled).")]
    programme = enrolment.programme
    problems = []
    if standing.credited_minutes < standing.required_minutes:
        problems.append(
            _("Study time: %(done).0f of %(need)d minutes.")
            % {"done": standing.credited_minutes, "need": standing.required_minutes}
        )
    if standing.public_minutes < standing.required_public_minutes:
        problems.append(
            _("Public courses: %(done).0f of %(need)d minutes.")
            % {"done": standing.public_minutes, "need": standing.required_public_minutes}
        )
    if programme.includes_job_type_course and standing.unfinished_required_courses:
        # Shenzhen (S0 8): the general course and the own job-type course are 必学必考, each one complete.
        problems.append(
            _("Courses not complete: %(courses)s.")
            % {"courses": "、".join(standing.unfinished_required_courses)}
        )
    days = programme.setting("min_study_days") or 0
    if standing.study_days < days:
        problems.append(_("Study days: %(done)d of %(need)d.") % {"done": standing.study_days, "need": days})
    if standing.quizzes_waiting:
        problems.append(
            _("Lesson quizzes not passed yet: %(lessons)s.")
            % {"lessons": "、".join(standing.quizzes_waiting)}
        )
    return problems


def _enrolment(learner: Any, programme: Programme) -> Enrolment:
    enrolment = next((e for e in active_enrolments(learner) if e.programme_id == programme.pk), None)
    if enrolment is None:
        raise PermissionDenied(
            "not_enrolled", _("You are not enrolled in this programme, or its deadline has passed.")
        )
    return enrolment


def active_rule(programme: Programme) -> PaperRule:
    rule = PaperRule.objects.filter(programme=programme, is_active=True).first()
    if rule is None:
        if not programme.profile.exam_preset:
            raise DomainError("no_exam", _("This programme has no online exam."))
        try:
            rule = paper_rule_from_preset(programme=programme)
        except IntegrityError:  # two first visitors at once: the other one saved it
            rule = PaperRule.objects.get(programme=programme, is_active=True)
    return rule


def attempts_finalize_due(now: dt.datetime | None = None) -> int:
    """Submit every open attempt whose deadline has passed (the scheduled job; also run on access), and apply every
    identity check not passed in time during an exam, even when the candidate is gone."""
    now = now or timezone.now()
    for attempt_id in ExamAttempt.objects.filter(
        submitted_at__isnull=True, deadline__gt=now, face_due_at__lte=now
    ).values_list("pk", flat=True):
        try:
            attempt_face_enforce(attempt_id=attempt_id, now=now)
        except Exception:  # one broken attempt must not keep the others open
            logger.exception("the identity check of attempt %s could not be applied", attempt_id)
    count = 0
    for attempt_id in ExamAttempt.objects.filter(submitted_at__isnull=True, deadline__lte=now).values_list(
        "pk", flat=True
    ):
        try:
            if attempt_submit(attempt_id=attempt_id, by="deadline"):
                count += 1
        except Exception:  # one broken attempt must not keep the others open
            logger.exception("attempt %s could not be submitted at its deadline", attempt_id)
    return count


def _finalize_if_due(enrolment: Enrolment) -> None:
    now = timezone.now()
    for attempt_id in ExamAttempt.objects.filter(
        enrolment=enrolment, submitted_at__isnull=True, deadline__lte=now
    ).values_list("pk", flat=True):
        attempt_submit(attempt_id=attempt_id, by="deadline")


def exam_start(
    *, learner: Any, programme: Programme, kind: str = AttemptKind.EXAM, request: HttpRequest | None = None
) -> ExamAttempt:
    """Start an attempt, or resume the open one on the same paper (EXM-04). Exams need the programme's study done
    (LRN-06), an attempt left (EXM-05), a desktop browser where the profile says so (EXM-07) and, where face checks
    are on, a passed face check in the last minutes (FACE-01). Mock exams are unlimited and never counted."""
    if kind not in AttemptKind.values:
        raise DomainError("invalid_kind", _("Unknown kind of attempt."))
    enrolment = _enrolment(learner, programme)
    _finalize_if_due(enrolment)
    desktop_only = kind == AttemptKind.EXAM and not programme.profile.mobile_exams_allowed
    if desktop_only and is_mobile(user_agent(request)):
        raise PermissionDenied(
            "desktop_only",
            _(
                "This exam can only be taken on a computer, not on a phone or tablet. Study on your phone; for "
                "the exam, sign in on a computer with a camera."
            ),
        )
    open_attempt = ExamAttempt.objects.filter(
        enrolment=enrolment, kind=kind, submitted_at__isnull=True
    ).first()
    if open_attempt is not None:
        return open_attempt  # resume the same paper
    if (
        kind == AttemptKind.MOCK
        and ExamAttempt.objects.filter(
            enrolment=enrolment, kind=AttemptKind.EXAM, submitted_at__isnull=True
        ).exists()
    ):
        raise Conflict(
            "exam_in_progress", _("Finish your exam first: mock exams are closed while an exam is open.")
        )
    rule = active_rule(programme)
    number = None
    if kind == AttemptKind.EXAM:
        exams = ExamAttempt.objects.filter(enrolment=enrolment, kind=AttemptKind.EXAM)
        if exams.filter(passed=True).exists():
            raise Conflict("already_passed", _("You have already passed this exam."))
        used = exams.count()
        if used >= rule.attempts:
            raise Conflict(
                "no_attempts_left",
                _(
                    "You have used all %(n)d attempts without passing. To try again you must enrol in the programme "
                    "again (ask your unit or training institution) and study it again."
                )
                % {"n": rule.attempts},
            )
        problems = unlock_problems(enrolment)
        if problems:
            raise PermissionDenied(
                "exam_locked",
                _("The exam opens when your study is done. Still to do: %(todo)s")
                % {"todo": " ".join(problems)},
            )
        if settings.FACE_CHECK_AT_EXAM:
            from safetrain.proctoring.services import face_passed_since

            since = timezone.now() - dt.timedelta(minutes=FACE_CHECK_FRESH_MINUTES)
            if not face_passed_since(user=learner, purpose="exam", since=since):
                raise PermissionDenied(
                    "face_check_required", _("Pass the face check first: every exam attempt starts with one.")
                )
        number = used + 1
    now = timezone.now()
    items = paper_draw(rule)
    deadline = now + dt.timedelta(minutes=rule.duration_minutes)
    face_due_at = None
    if settings.FACE_CHECK_AT_EXAM and kind == AttemptKind.EXAM:
        face_due_at = exam_checks.first_check_at(started_at=now, deadline=deadline, profile=programme.profile)
    try:
        with transaction.atomic():
            attempt = ExamAttempt.objects.create(
                enrolment=enrolment,
                rule=rule,
                kind=kind,
                number=number,
                items=items,
                started_at=now,
                deadline=deadline,
                total=rule_total(rule),
                ip=client_ip(request),
                user_agent=user_agent(request),
                face_due_at=face_due_at,
            )
    except IntegrityError:
        # Two pages started at once: the other one won; both go on with the same paper.
        return ExamAttempt.objects.get(enrolment=enrolment, kind=kind, submitted_at__isnull=True)
    audit_log(
        action=f"assessment.{kind}_start",
        obj=enrolment,
        actor=learner,
        request=request,
        organisation_id=learner.primary_organisation_id,
        detail={"attempt": attempt.pk, "number": number, "questions": len(items)},
    )
    return attempt


def attempt_for(learner: Any, attempt_id: int) -> ExamAttempt:
    attempt = (
        ExamAttempt.objects.select_related("rule", "enrolment__programme")
        .filter(pk=attempt_id, enrolment__learner=learner)
        .first()
    )
    if attempt is None:
        raise NotFound("attempt_not_found", _("This exam attempt does not exist."))
    now = timezone.now()
    if attempt.submitted_at is None and attempt.deadline <= now:
        attempt_submit(attempt_id=attempt.pk, by="deadline")
        attempt.refresh_from_db()
    elif attempt.submitted_at is None and exam_checks.due(attempt, now):
        if attempt_face_enforce(attempt_id=attempt.pk, now=now):
            attempt.refresh_from_db()
    return attempt


def _value_from_display(item: dict[str, Any], value: Any) -> list[Any]:
    """An answer as the page shows the options (its positions) to the original option indexes; fill-in texts."""
    kind, order = item["kind"], item["order"]
    if kind == QuestionKind.FILL:
        blanks = len(item["answer"])
        if not isinstance(value, list) or len(value) != blanks or not all(isinstance(v, str) for v in value):
            raise DomainError(
                "invalid_answer", _("Give one text per blank (%(n)d blanks).") % {"n": blanks}, field="value"
            )
        return [v.strip()[:200] for v in value]
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise DomainError(
            "invalid_answer", _("Give the chosen options as a list of positions."), field="value"
        )
    if any(not 0 <= v < len(order) for v in value) or len(set(value)) != len(value):
        raise DomainError("invalid_answer", _("A chosen option does not exist."), field="value")
    if kind in (QuestionKind.SINGLE, QuestionKind.TRUE_FALSE) and len(value) > 1:
        raise DomainError("invalid_answer", _("Choose one option only."), field="value")
    return sorted(order[v] for v in value)


def paper_item(items: list[dict[str, Any]], question_id: int) -> dict[str, Any] | None:
    return next((i for i in items if i["question"] == question_id), None)


ANSWER_OPEN, ANSWER_SUBMITTED, ANSWER_TIME_UP = "open", "submitted", "time_up"


@dataclass(frozen=True)
class AnswerDecision:
    """What becomes of an answer: saved (ANSWER_OPEN, as `stored`), refused because the paper was submitted, or
    refused because the time is up (the server submits the paper first)."""

    state: str
    stored: list[Any] | None = None
    face_check_due: bool = False  # saved all the same; then the due identity check is applied (answer_save)


def answer_decide(attempt: Any, item: dict[str, Any] | None, value: Any, now: dt.datetime) -> AnswerDecision:
    """The one decision on saving an answer (EXM-04), for the full stack (answer_save) and the hot path
    (assessment.hotpath). `attempt`: the locked attempt's submitted_at, deadline and face_due_at; `item`: the
    question's item of the paper (None: not on it). A question not on the paper raises NotFound and a value that
    question cannot take DomainError, with the API's messages."""
    if attempt.submitted_at is not None:
        return AnswerDecision(ANSWER_SUBMITTED)
    if attempt.deadline <= now:
        return AnswerDecision(ANSWER_TIME_UP)
    if item is None:
        raise NotFound("question_not_on_paper", _("This question is not on your paper."))
    return AnswerDecision(ANSWER_OPEN, _value_from_display(item, value), exam_checks.due(attempt, now))


def answer_save(*, learner: Any, attempt_id: int, question_id: int, value: Any) -> ExamAnswer:
    """Save one answer at once (EXM-04). Saving the same answer again changes nothing; an empty list clears it.
    The attempt row is locked while saving, so an answer is either in before the paper is scored or refused."""
    with transaction.atomic():
        attempt = (
            ExamAttempt.objects.select_for_update().filter(pk=attempt_id, enrolment__learner=learner).first()
        )
        if attempt is None:
            raise NotFound("attempt_not_found", _("This exam attempt does not exist."))
        now = timezone.now()
        decision = answer_decide(attempt, paper_item(attempt.items, question_id), value, now)
        if decision.state == ANSWER_OPEN:
            answer, _created = ExamAnswer.objects.update_or_create(
                attempt=attempt,
                question_id=question_id,
                defaults={"value": decision.stored, "saved_at": now},
            )
            # Saved first, whatever the identity check: an answer given while a check is overdue is kept (and
            # scored if that ends the attempt now, in this same transaction).
            if decision.face_check_due:
                attempt_face_enforce(attempt_id=attempt.pk)
            return answer
    if decision.state == ANSWER_TIME_UP:  # the server submits the paper now (the candidate may be gone)
        attempt_submit(attempt_id=attempt.pk, by="deadline")
    raise Conflict(
        "attempt_submitted",
        _(
            "This paper has been submitted (the time was up or you submitted it); answers can no longer change."
        ),
    )


def exam_page_key(attempt: ExamAttempt, request: Any) -> str:
    """The open paper's key for the sign-in of `request` (core.hotpath.keys): the exam page sends it with each
    answer (header X-Exam-Key), which lets the hot path save it; empty without a sign-in or once submitted."""
    signin = getattr(request, "auth_session", None)
    if signin is None or attempt.submitted_at is not None:
        return ""
    return page_key("exam", attempt.pk, signin.pk)


def _normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def is_correct(kind: str, key: list[Any], value: list[Any]) -> bool:
    """Single, true/false: the right option; multiple: exactly the right options (all or nothing); fill-in: every
    blank one of its accepted texts (full-width and half-width, spaces and case do not matter)."""
    if kind == QuestionKind.FILL:
        return len(value) == len(key) and all(
            _normalise(given) in {_normalise(a) for a in accepted}
            for given, accepted in zip(value, key, strict=False)
        )
    return sorted(value) == sorted(key)


@transaction.atomic
def attempt_submit(*, attempt_id: int, by: str = "candidate", learner: Any = None) -> ExamAttempt | None:
    """Score and close the attempt (once), against the key copied onto the paper when it was drawn. Returns None
    when it was already submitted.

    During an exam with identity checks the candidate cannot submit while a check is due; an attempt whose due
    check ran out of time is first given the profile's rule (at the deadline too), and one ended by it
    (by="face_check") is scored for the record but never passed."""
    query = ExamAttempt.objects.select_for_update().filter(pk=attempt_id)
    if learner is not None:
        query = query.filter(enrolment__learner=learner)
    attempt = query.first()
    if attempt is None:
        raise NotFound("attempt_not_found", _("This exam attempt does not exist."))
    if attempt.submitted_at is not None:
        return None
    now = timezone.now()
    submitted_at = min(now, attempt.deadline) if by == "deadline" else now
    if by != exam_checks.ENDED_BY and exam_checks.enabled(attempt):
        if exam_checks.overdue(attempt, submitted_at, attempt.enrolment.programme.profile):
            if _check_failed(attempt, reason="timeout", now=now):
                by = exam_checks.ENDED_BY
        elif by == "candidate" and exam_checks.due(attempt, now):
            raise Conflict(
                "face_check_due",
                _("Pass the identity check first: the paper can be submitted once it is passed."),
            )
    answers = {a.question_id: a for a in attempt.answers.all()}
    score = Decimal(0)
    marks: dict[tuple[bool, Decimal], list[int]] = {}
    for item in attempt.items:
        answer = answers.get(item["question"])
        if answer is None:
            continue
        answer.correct = is_correct(item["kind"], item["answer"], answer.value)
        answer.score = Decimal(item["score"]) if answer.correct else Decimal(0)
        score += answer.score
        marks.setdefault((answer.correct, answer.score), []).append(answer.pk)
    # One UPDATE per distinct mark (a handful): a bulk_update of a whole paper costs more to compile than to run.
    for (correct, points), ids in marks.items():
        ExamAnswer.objects.filter(pk__in=ids).update(correct=correct, score=points)
    attempt.score = score
    # An attempt ended by an identity check not passed is never passed, whatever its score.
    attempt.passed = score >= attempt.rule.pass_mark and by != exam_checks.ENDED_BY
    attempt.submitted_at = submitted_at
    attempt.submitted_by = by
    attempt.save(update_fields=["score", "passed", "submitted_at", "submitted_by"])
    ExamRecord.objects.create(
        at=now,
        attempt=attempt,
        enrolment_id=attempt.enrolment_id,
        learner_id=attempt.enrolment.learner_id,
        kind=attempt.kind,
        number=attempt.number,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        submitted_by=by,
        score=score,
        total=attempt.total,
        passed=attempt.passed,
        answers=[
            {"question": a.question_id, "value": a.value, "correct": a.correct, "score": str(a.score)}
            for a in sorted(answers.values(), key=lambda a: a.question_id)
        ],
        paper_digest=hashlib.sha256(
            json.dumps(attempt.items, ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest(),
        ip=attempt.ip,
    )
    audit_log(
        action=f"assessment.{attempt.kind}_submit",
        obj=attempt.enrolment,
        actor=attempt.enrolment.learner,
        organisation_id=attempt.enrolment.learner.primary_organisation_id,
        detail={"attempt": attempt.pk, "score": str(score), "passed": attempt.passed, "by": by},
    )
    if attempt.passed and attempt.kind == AttemptKind.EXAM:
        from safetrain.certification.services import issue_after_commit  # certification builds on exams

        issue_after_commit(attempt.enrolment_id)
    return attempt


# Identity checks during an exam (FACE-01, GD#11) ---------------------------------------------------------------


def _check_failed(attempt: ExamAttempt, *, reason: str, now: dt.datetime) -> bool:
    """A check not passed during the exam (`reason`: timeout, or failures: the profile's number of tries failed),
    on the locked attempt: recorded (the review queue's evidence, an audit entry), then the profile's rule. Returns
    True when the attempt must end now (the caller submits it); a flagged attempt goes on with a check due later."""
    from safetrain.learning.models import SuspiciousEvent, SuspiciousKind

    enrolment = attempt.enrolment
    profile = enrolment.programme.profile
    ends = exam_checks.ends_attempt(profile)
    evidence = {
        "attempt": attempt.pk,
        "number": attempt.number,
        "reason": reason,
        "failures": attempt.face_failures,
        "due_at": attempt.face_due_at.isoformat() if attempt.face_due_at else None,
        "action": profile.exam_face_failure_action,
    }
    SuspiciousEvent.objects.create(
        learner_id=enrolment.learner_id,
        enrolment=enrolment,
        kind=SuspiciousKind.EXAM_FACE_FAILED,
        evidence=evidence,
        at=now,
    )
    audit_log(
        action="assessment.exam_face_failed",
        obj=enrolment,
        actor=enrolment.learner,
        organisation_id=enrolment.learner.primary_organisation_id,
        result="failure",
        detail=evidence,
    )
    if ends:
        return True
    attempt.face_flagged_at = now
    attempt.face_failures = 0
    attempt.face_due_at = exam_checks.next_check_at(now=now, deadline=attempt.deadline, profile=profile)
    attempt.save(update_fields=["face_flagged_at", "face_failures", "face_due_at"])
    return False


def _locked_open_attempt(attempt_id: int) -> ExamAttempt | None:
    return (
        ExamAttempt.objects.select_for_update(of=("self",))
        .select_related("enrolment__programme__profile", "enrolment__learner", "rule")
        .filter(pk=attempt_id, submitted_at__isnull=True)
        .first()
    )


@transaction.atomic
def attempt_face_enforce(*, attempt_id: int, now: dt.datetime | None = None) -> bool:
    """Apply a check during the exam that was not passed in time, when the server next sees the attempt (a request
    of its page, or the minute job when the candidate is gone). Returns whether anything changed."""
    attempt = _locked_open_attempt(attempt_id)
    now = now or timezone.now()
    if attempt is None or not exam_checks.enabled(attempt) or attempt.deadline <= now:
        return False  # (at the deadline the submission applies it)
    if not exam_checks.overdue(attempt, now, attempt.enrolment.programme.profile):
        return False
    if _check_failed(attempt, reason="timeout", now=now):
        attempt_submit(attempt_id=attempt.pk, by=exam_checks.ENDED_BY)
    return True


def exam_face_state(*, learner: Any, attempt_id: int) -> dict[str, Any]:
    """What the exam page asks every few seconds: whether a check is due now (never when the next one comes), the
    time and tries left to pass it, and whether the attempt is over (the server may have ended it)."""
    attempt = attempt_for(learner, attempt_id)
    now = timezone.now()
    profile = attempt.enrolment.programme.profile
    open_exam = attempt.submitted_at is None and exam_checks.enabled(attempt)
    return {
        "due": open_exam and exam_checks.due(attempt, now),
        "seconds_left": exam_checks.seconds_left(attempt, now, profile) if open_exam else None,
        "tries_left": max(0, profile.face_max_failures - attempt.face_failures),
        "submitted": attempt.submitted_at is not None,
        "ended": attempt.submitted_by == exam_checks.ENDED_BY,
    }


def _open_exam_with_checks(learner: Any, attempt_id: int) -> ExamAttempt:
    attempt = attempt_for(learner, attempt_id)
    if attempt.submitted_at is not None:
        raise Conflict(
            "attempt_submitted",
            _(
                "This paper has been submitted (the time was up or you submitted it); answers can no longer "
                "change."
            ),
        )
    if not exam_checks.enabled(attempt):
        raise DomainError("no_face_checks", _("This attempt has no identity checks."))
    return attempt


def exam_face_challenge(*, learner: Any, attempt_id: int) -> Any:
    """The liveness challenge for the check due now during the exam (the same protocol as every check). Only a
    due check is answered: a candidate cannot pass one early, at a moment of their choosing."""
    from safetrain.proctoring.models import CheckPurpose
    from safetrain.proctoring.services import face_challenge_issue

    attempt = _open_exam_with_checks(learner, attempt_id)
    if not exam_checks.due(attempt, timezone.now()):
        raise Conflict("no_check_due", _("No identity check is due now. Go on with the exam."))
    return face_challenge_issue(user=learner, purpose=CheckPurpose.EXAM, exam_attempt_id=attempt.pk)


# Check outcomes that are no verdict during an exam: the face service down or too slow (proctoring.NO_VERDICT less
# an unreadable image, which the page controls).
EXAM_NO_VERDICT = frozenset({"timeout", "service_unavailable"})


def exam_face_check(
    *, learner: Any, attempt_id: int, challenge_id: int, frames: list[bytes], request: Any = None
) -> dict[str, Any]:
    """Run the due check during the exam (the camera frames against the learner's reference, with its liveness
    challenge; the snapshot kept) and apply the result to the attempt. The attempt is not locked while the face
    is verified: answers go on being saved meanwhile."""
    from safetrain.proctoring.services import face_check_run

    attempt = _open_exam_with_checks(learner, attempt_id)
    outcome = face_check_run(
        user=learner, challenge_id=challenge_id, frames=frames, request=request, exam_attempt_id=attempt.pk
    )
    check = outcome["check"]
    # Only the service's own trouble is no verdict: frames the page sends unreadable are the candidate's doing and
    # cost a try (otherwise junk frames would restart the time limit until the deadline).
    verdict = None if (not check.passed and check.reason in EXAM_NO_VERDICT) else check.passed
    return {**outcome, **_exam_check_result(attempt_id=attempt.pk, passed=verdict)}


@transaction.atomic
def _exam_check_result(*, attempt_id: int, passed: bool | None) -> dict[str, Any]:
    """A finished check applied to the attempt. None is no verdict (the service was down or too slow): it costs no
    try and restarts the time limit. A pass clears the check and sets the next one; a failure costs a try, and
    the profile's number of them is a check not passed."""
    attempt = _locked_open_attempt(attempt_id)
    if attempt is None:  # ended meanwhile (the deadline, or a check not passed in time)
        ended = ExamAttempt.objects.filter(pk=attempt_id, submitted_by=exam_checks.ENDED_BY).exists()
        return {"tries_left": 0, "ended": ended, "flagged": False}
    now = timezone.now()
    profile = attempt.enrolment.programme.profile
    was_due = exam_checks.due(attempt, now)
    if passed is None:
        if was_due:
            attempt.face_due_at = now
            attempt.save(update_fields=["face_due_at"])
        return {
            "tries_left": profile.face_max_failures - attempt.face_failures,
            "ended": False,
            "flagged": False,
        }
    if passed:
        attempt.face_failures = 0
        attempt.face_passed_at = now
        attempt.face_due_at = exam_checks.next_check_at(now=now, deadline=attempt.deadline, profile=profile)
        attempt.save(update_fields=["face_failures", "face_passed_at", "face_due_at"])
        return {"tries_left": profile.face_max_failures, "ended": False, "flagged": False}
    attempt.face_failures += 1
    attempt.save(update_fields=["face_failures"])
    if attempt.face_failures < profile.face_max_failures:
        return {
            "tries_left": profile.face_max_failures - attempt.face_failures,
            "ended": False,
            "flagged": False,
        }
    if _check_failed(attempt, reason="failures", now=now):
        attempt_submit(attempt_id=attempt.pk, by=exam_checks.ENDED_BY)
        return {"tries_left": 0, "ended": True, "flagged": False}
    return {"tries_left": profile.face_max_failures, "ended": False, "flagged": True}


def exam_overview(learner: Any) -> list[dict[str, Any]]:
    """My exams (EXM-05): per enrolled programme with an exam, what is still to do, the attempts and their results."""
    overview = enrolment_overview(learner)
    rows = []
    for enrolment in active_enrolments(learner):
        programme = enrolment.programme
        rule = PaperRule.objects.filter(programme=programme, is_active=True).first()
        if rule is None and not programme.profile.exam_preset:
            continue
        attempts = list(ExamAttempt.objects.filter(enrolment=enrolment).order_by("started_at"))
        exams = [a for a in attempts if a.kind == AttemptKind.EXAM]
        allowed = rule.attempts if rule else programme.setting("exam_attempts")
        rows.append(
            {
                "enrolment": enrolment,
                "programme": programme,
                "problems": unlock_problems(enrolment, overview),
                "exams": exams,
                "open_exam": next((a for a in exams if a.submitted_at is None), None),
                "open_mock": next(
                    (a for a in attempts if a.kind == AttemptKind.MOCK and a.submitted_at is None), None
                ),
                "passed": any(a.passed for a in exams),
                "left": max(0, allowed - len(exams)),
                "allowed": allowed,
            }
        )
    return rows


def attempts_left(enrolment: Enrolment, rule: PaperRule) -> int:
    return max(
        0, rule.attempts - ExamAttempt.objects.filter(enrolment=enrolment, kind=AttemptKind.EXAM).count()
    )
