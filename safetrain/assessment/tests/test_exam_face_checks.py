"""FACE-01 during the exam (GD#11: face recognition over the whole training and testing flow; Shanxi's anti-proxy
means): random identity checks during an exam attempt at the profile's interval, with the same challenge protocol
as study; a check failed too often or not passed in time ends the attempt or flags it for review, as the profile
says; the answers saved so far are never lost, and the paper cannot be submitted while a check is due."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from safetrain.assessment import exam_checks
from safetrain.assessment.exams import attempts_finalize_due
from safetrain.assessment.models import ExamAnswer, ExamAttempt, ExamRecord
from safetrain.assessment.tests.conftest import put, right_positions, start, studied
from safetrain.catalog.models import RegionProfile
from safetrain.learning.models import SuspiciousEvent
from safetrain.proctoring.models import FaceCheck
from safetrain.proctoring.tests.camera import TURN, frames_b64
from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait
from safetrain.records.models import AuditEntry

START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
SOMEONE_ELSE = ("biden2.jpg", "biden.jpg", "biden2.jpg", "biden.jpg", "biden2.jpg")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


# The moments (no database) ---------------------------------------------------------------------------------------


def test_face_01_exam_check_moments_are_random_within_the_interval_and_leave_time_to_pass():
    profile = RegionProfile(verification_interval_minutes=15, face_timeout_seconds=180)
    deadline = START + dt.timedelta(minutes=120)
    firsts = [
        exam_checks.first_check_at(started_at=START, deadline=deadline, profile=profile) for _ in range(300)
    ]
    # Within the first interval (between a fifth and four fifths of it), never twice the same moment.
    assert all(START + dt.timedelta(seconds=180) <= at <= START + dt.timedelta(seconds=720) for at in firsts)
    assert len(set(firsts)) == len(firsts)
    now = START + dt.timedelta(minutes=60)
    nexts = [exam_checks.next_check_at(now=now, deadline=deadline, profile=profile) for _ in range(300)]
    assert all(now + dt.timedelta(seconds=450) <= at <= now + dt.timedelta(seconds=900) for at in nexts)
    # Near the deadline: only moments whose whole time limit fits before it; none when none does.
    late = deadline - dt.timedelta(minutes=10)
    for _ in range(50):
        at = exam_checks.next_check_at(now=late, deadline=deadline, profile=profile)
        assert at is not None
        assert at + dt.timedelta(seconds=180) <= deadline
    too_late = deadline - dt.timedelta(seconds=190)
    assert exam_checks.next_check_at(now=too_late, deadline=deadline, profile=profile) is None
    # The moments come from the operating system's random source: a script cannot predict them.
    assert isinstance(exam_checks._random, secrets.SystemRandom)


@pytest.mark.parametrize(
    ("since_due", "due", "overdue", "left"),
    [
        (-1, False, False, None),
        (0, True, False, 180),
        (179, True, False, 1),
        (180, True, False, 0),
        (181, True, True, 0),
    ],
)
def test_face_01_a_due_check_has_the_profiles_time_limit(since_due, due, overdue, left):
    profile = RegionProfile(face_timeout_seconds=180)
    attempt = ExamAttempt(face_due_at=START)
    now = START + dt.timedelta(seconds=since_due)
    assert exam_checks.due(attempt, now) is due
    assert exam_checks.overdue(attempt, now, profile) is overdue
    assert exam_checks.seconds_left(attempt, now, profile) == left


# Through the API ------------------------------------------------------------------------------------------------


@pytest.fixture
def candidate(programme, world, settings):
    """A learner who studied the programme and has an approved ID photo; face checks at the exam on."""
    settings.FACE_CHECK_AT_EXAM = True
    settings.FACE_CHALLENGES = ["turn"]  # what the test photos can show
    learner = world.learner_nanshan
    studied(learner, programme)
    approved_photo(learner, portrait("obama.jpg"), reviewer=world.admin_nanshan)
    return learner


def profile_rule(programme, **values) -> None:
    RegionProfile.objects.filter(pk=programme.profile_id).update(**values)


def start_with_check(client, programme) -> dict:
    """The check at the start (the generic endpoints, as the start page uses them), then the paper."""
    challenge = client.post("/api/v1/face-challenges", {"purpose": "exam"}, content_type="application/json")
    passed = client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    )
    assert passed.json()["passed"] is True, passed.content
    started = start(client, programme)
    assert started.status_code == 200, started.content
    return started.json()


def state(client, paper) -> dict:
    response = client.get(f"/api/v1/attempts/{paper['id']}/face-check")
    assert response.status_code == 200, response.content
    return response.json()


def exam_check(client, paper, names) -> dict:
    """A check during the exam, as the exam page's camera panel makes it."""
    challenge = client.post(
        f"/api/v1/attempts/{paper['id']}/face-challenges", content_type="application/json"
    )
    assert challenge.status_code == 200, challenge.content
    response = client.post(
        f"/api/v1/attempts/{paper['id']}/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames_b64(*names)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def answer_all(client, paper, questions=None) -> None:
    for question in questions if questions is not None else paper["questions"]:
        assert put(client, paper, question, right_positions(question)).status_code == 200


def test_face_01_a_check_falls_due_during_the_exam_and_a_pass_lets_the_paper_be_submitted(
    candidate, programme, api_client
):
    with time_machine.travel(START, tick=False) as clock:
        client = api_client(candidate)
        paper = start_with_check(client, programme)
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        profile = programme.profile
        interval = profile.verification_interval_minutes * 60
        assert START + dt.timedelta(seconds=0.2 * interval) <= attempt.face_due_at
        assert attempt.face_due_at <= START + dt.timedelta(seconds=0.8 * interval)
        # Before the moment the page learns nothing (never when the next check comes), and no check can be taken.
        assert state(client, paper) == {
            "due": False,
            "seconds_left": None,
            "tries_left": profile.face_max_failures,
            "submitted": False,
            "ended": False,
        }
        early = client.post(
            f"/api/v1/attempts/{paper['id']}/face-challenges", content_type="application/json"
        )
        assert (early.status_code, early.json()["code"]) == (409, "no_check_due")
        clock.move_to(attempt.face_due_at + dt.timedelta(seconds=5))
        assert state(client, paper)["due"] is True
        assert state(client, paper)["seconds_left"] == profile.face_timeout_seconds - 5
        # Answers keep being saved while the check is due; the paper cannot be submitted until it is passed.
        answer_all(client, paper)
        refused = client.post(f"/api/v1/attempts/{paper['id']}/submit")
        assert (refused.status_code, refused.json()["code"]) == (409, "face_check_due")
        assert CHINESE.search(refused.json()["message"])
        # The check's challenge belongs to the attempt: the generic endpoint cannot answer it.
        challenge = client.post(
            f"/api/v1/attempts/{paper['id']}/face-challenges", content_type="application/json"
        ).json()
        elsewhere = client.post(
            "/api/v1/face-checks",
            {"challenge_id": challenge["id"], "frames": frames_b64(*TURN)},
            content_type="application/json",
        )
        assert elsewhere.json()["code"] == "challenge_expired"
        result = exam_check(client, paper, TURN)
        assert (result["passed"], result["ended"], result["flagged"], result["signed_out"]) == (
            True,
            False,
            False,
            False,
        )
        check = FaceCheck.objects.get(pk=result["id"])
        assert (check.purpose, check.exam_attempt_id, check.passed) == ("exam", attempt.pk, True)
        assert check.snapshot_name  # the snapshot is kept, as for every check
        attempt.refresh_from_db()
        now = timezone.now()
        assert now + dt.timedelta(seconds=0.5 * interval) <= attempt.face_due_at
        assert attempt.face_due_at <= now + dt.timedelta(seconds=interval)
        assert state(client, paper)["due"] is False
        submitted = client.post(f"/api/v1/attempts/{paper['id']}/submit")
        assert submitted.status_code == 200, submitted.content
        assert (submitted.json()["passed"], submitted.json()["submitted_by"]) == (True, "candidate")
        assert submitted.json()["flagged_for_review"] is False


def test_face_01_a_check_not_passed_in_time_ends_the_attempt_with_every_saved_answer_scored(
    candidate, programme, api_client, web_client
):
    profile_rule(programme, exam_face_failure_action="end")
    with time_machine.travel(START, tick=False) as clock:
        client = api_client(candidate)
        paper = start_with_check(client, programme)
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        *before, last = paper["questions"]
        answer_all(client, paper, before)
        # The time to pass the check runs out; an answer given now is still saved, then the attempt ends.
        clock.move_to(attempt.face_due_at + dt.timedelta(seconds=programme.profile.face_timeout_seconds + 1))
        assert put(client, paper, last, right_positions(last)).status_code == 200
        attempt.refresh_from_db()
        assert attempt.submitted_by == "face_check"
        assert attempt.passed is False  # never passed, whatever the score
        assert attempt.score == attempt.total  # every saved answer scored, the last one included
        assert ExamAnswer.objects.filter(attempt=attempt).count() == len(paper["questions"])
        record = ExamRecord.objects.get(attempt=attempt)
        assert (record.submitted_by, record.passed, len(record.answers)) == ("face_check", False, 70)
        event = SuspiciousEvent.objects.get(kind="exam_face_failed")
        assert (event.evidence["reason"], event.evidence["action"]) == ("timeout", "end")
        assert AuditEntry.objects.filter(action="assessment.exam_face_failed", result="failure").exists()
        # The page learns it at once; answers can no longer change.
        assert state(client, paper)["submitted"] is True
        assert state(client, paper)["ended"] is True
        assert put(client, paper, last, []).json()["code"] == "attempt_submitted"
        result = web_client(candidate).get(f"/assessment/attempts/{paper['id']}/result/").content.decode()
        assert 'data-testid="face-ended"' in result
        assert "身份核验未通过" in result


@pytest.mark.parametrize("action", ["end", "flag"])
def test_face_01_a_check_failed_too_often_ends_or_flags_the_attempt_as_the_profile_says(
    action, candidate, programme, world, api_client, web_client
):
    profile_rule(programme, exam_face_failure_action=action, face_max_failures=2)
    with time_machine.travel(START, tick=False) as clock:
        client = api_client(candidate)
        paper = start_with_check(client, programme)
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        answer_all(client, paper, paper["questions"][:10])
        clock.move_to(attempt.face_due_at + dt.timedelta(seconds=1))
        first = exam_check(client, paper, SOMEONE_ELSE)  # someone else sits the exam
        assert (first["passed"], first["reason"], first["tries_left"]) == (False, "different_person", 1)
        assert (first["ended"], first["flagged"]) == (False, False)
        second = exam_check(client, paper, SOMEONE_ELSE)
        assert second["passed"] is False
        attempt.refresh_from_db()
        assert ExamAnswer.objects.filter(attempt=attempt).count() == 10  # never lost
        assert FaceCheck.objects.filter(exam_attempt_id=attempt.pk, passed=False).count() == 2
        event = SuspiciousEvent.objects.get(kind="exam_face_failed")
        assert (event.evidence["reason"], event.evidence["action"]) == ("failures", action)
        if action == "end":
            assert (second["ended"], second["flagged"]) == (True, False)
            assert (attempt.submitted_by, attempt.passed) == ("face_check", False)
            assert attempt.score == sum(Decimal(q["score"]) for q in paper["questions"][:10])
        else:
            assert (second["ended"], second["flagged"]) == (False, True)
            # The attempt goes on, flagged for review; the next check comes later.
            assert attempt.submitted_at is None
            assert attempt.face_flagged_at == timezone.now()
            assert attempt.face_due_at > timezone.now()
            assert state(client, paper)["due"] is False
            answer_all(client, paper, paper["questions"][10:])
            submitted = client.post(f"/api/v1/attempts/{paper['id']}/submit").json()
            assert (submitted["passed"], submitted["flagged_for_review"]) == (True, True)
            result = web_client(candidate).get(f"/assessment/attempts/{paper['id']}/result/").content.decode()
            assert 'data-testid="face-flagged"' in result
        # Staff of the learner's unit see it; another unit's do not; operators find it in the review queue.
        listing = web_client(world.admin_nanshan).get("/assessment/identity-checks/")
        assert listing.status_code == 200
        assert candidate.name in listing.content.decode()
        assert ("已结束" if action == "end" else "已标记待复核") in listing.content.decode()
        other = web_client(world.admin_futian).get("/assessment/identity-checks/").content.decode()
        assert candidate.name not in other
        assert web_client(world.learner_futian).get("/assessment/identity-checks/").status_code == 403
        queue = web_client(world.operator).get("/learn/review/").content.decode()
        assert "考试过程中身份核验未通过" in queue


def test_face_01_a_candidate_who_left_is_dealt_with_by_the_minute_job(candidate, programme, api_client):
    profile_rule(programme, exam_face_failure_action="flag")
    with time_machine.travel(START, tick=False) as clock:
        client = api_client(candidate)
        paper = start_with_check(client, programme)
        answer_all(client, paper, paper["questions"][:5])
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        due_at = attempt.face_due_at
        clock.move_to(due_at + dt.timedelta(seconds=60))
        assert attempts_finalize_due() == 0
        assert ExamAttempt.objects.get(pk=attempt.pk).face_flagged_at is None  # still within its time
        clock.move_to(due_at + dt.timedelta(seconds=programme.profile.face_timeout_seconds + 30))
        attempts_finalize_due()
        attempt.refresh_from_db()
        assert attempt.face_flagged_at == timezone.now()
        assert attempt.submitted_at is None
        # Under "end" the same job ends it, the answers saved kept.
        profile_rule(programme, exam_face_failure_action="end")
        clock.move_to(attempt.face_due_at + dt.timedelta(seconds=programme.profile.face_timeout_seconds + 1))
        attempts_finalize_due()
        attempt.refresh_from_db()
        assert attempt.submitted_by == "face_check"
        assert len(ExamRecord.objects.get(attempt=attempt).answers) == 5


def test_face_01_mock_exams_and_exams_without_face_checks_ask_for_none(
    programme, world, api_client, settings
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    mock = start(client, programme, kind="mock").json()
    paper = start(client, programme).json()  # FACE_CHECK_AT_EXAM is off in the test settings
    for attempt_id in (mock["id"], paper["id"]):
        assert ExamAttempt.objects.get(pk=attempt_id).face_due_at is None
    assert state(client, paper)["due"] is False
    refused = client.post(f"/api/v1/attempts/{paper['id']}/face-challenges", content_type="application/json")
    assert refused.json()["code"] == "no_face_checks"


def test_face_01_the_exam_pages_carry_the_camera_panel_and_no_inline_script(
    candidate, programme, api_client, web_client
):
    """The exam page shows the camera panel when a check is due (exam.js asks the server); the start page and the
    paper run from their static modules only (the Content-Security-Policy allows no inline script or handler)."""
    paper = start_with_check(api_client(candidate), programme)
    client = web_client(candidate)  # the same learner in a browser
    start_page = client.get(f"/assessment/exams/{programme.code}/start/").content.decode()
    assert "data-exam-start" in start_page
    assert 'data-testid="face-rule"' in start_page
    assert "safetrain/exam" in start_page
    assert "safetrain/face-check" in start_page
    page = client.get(f"/assessment/attempts/{paper['id']}/").content.decode()
    assert 'data-face-checks="true"' in page
    assert 'data-testid="face-check"' in page
    assert 'data-purpose="exam"' in page
    for html in (start_page, page):
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script from a file
        assert not re.search(r"\son[a-z]+=", html)  # no inline event handler


def test_face_01_a_check_passed_during_one_attempt_opens_no_other_attempt(candidate):
    """Every attempt starts with a check of its own: a pass in an attempt's last minutes is not a start check."""
    from safetrain.proctoring.services import face_passed_since

    since = timezone.now() - dt.timedelta(minutes=5)
    FaceCheck.objects.create(
        user=candidate, purpose="exam", exam_attempt_id=1, at=timezone.now(), passed=True
    )
    assert not face_passed_since(user=candidate, purpose="exam", since=since)
    FaceCheck.objects.create(user=candidate, purpose="exam", at=timezone.now(), passed=True)
    assert face_passed_since(user=candidate, purpose="exam", since=since)


def test_face_01_unreadable_frames_during_the_exam_cost_a_try_and_never_hold_the_check_off(
    candidate, programme, api_client
):
    """Junk frames are the page's doing: were they no verdict, they would restart the time limit until the deadline
    and the candidate would never be checked."""
    import base64

    profile_rule(programme, exam_face_failure_action="end")
    junk = base64.b64encode(b"not an image at all").decode()
    with time_machine.travel(START, tick=False) as clock:
        client = api_client(candidate)
        paper = start_with_check(client, programme)
        answer_all(client, paper)
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        clock.move_to(attempt.face_due_at + dt.timedelta(seconds=5))
        tries = programme.profile.face_max_failures
        for left in range(tries - 1, -1, -1):
            challenge = client.post(
                f"/api/v1/attempts/{paper['id']}/face-challenges", content_type="application/json"
            ).json()
            result = client.post(
                f"/api/v1/attempts/{paper['id']}/face-checks",
                {"challenge_id": challenge["id"], "frames": [junk] * 5},
                content_type="application/json",
            ).json()
            assert result["passed"] is False
            assert result["tries_left"] == left or result["ended"]
        attempt.refresh_from_db()
        assert attempt.submitted_by == "face_check"
        assert attempt.passed is False
        assert ExamAnswer.objects.filter(attempt=attempt).count() == len(paper["questions"])  # answers kept
