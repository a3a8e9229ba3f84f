"""FACE-01, FACE-03 with the crediting engine: checks fall due at random moments while studying, crediting stops
until one passes, and failures or a check not passed in time sign the learner out. Real photos, real model."""

from __future__ import annotations

import datetime as dt

import pytest

from safetrain.accounts.models import AuthSession, SessionEndReason
from safetrain.learning import face_gate
from safetrain.learning.models import LessonProgress, SessionState, StudySession
from safetrain.learning.tests.conftest import Player
from safetrain.proctoring.models import FaceCheck
from safetrain.proctoring.services import reference_photo_set
from safetrain.proctoring.tests.camera import TURN, frames_b64
from safetrain.proctoring.tests.test_reference_photo import portrait


@pytest.fixture
def checks_on(settings, world):
    settings.FACE_CHECKS_WHILE_STUDYING = True
    settings.FACE_CHALLENGES = ["turn"]  # what the test photos can show
    reference_photo_set(user=world.learner_nanshan, data=portrait("obama.jpg"), actor=world.learner_nanshan)
    return world.learner_nanshan


def face_check(client, session_id: int, names) -> dict:
    challenge = client.post(
        "/api/v1/face-challenges",
        {"purpose": "study", "study_session_id": session_id},
        content_type="application/json",
    )
    assert challenge.status_code == 200, challenge.content
    response = client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames_b64(*names)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def due_in(session_id: int, now: dt.datetime) -> float:
    return (StudySession.objects.get(pk=session_id).face_due_at - now).total_seconds()


def test_face_01_a_check_falls_due_while_studying_and_stops_crediting_until_passed(
    lesson, checks_on, api_client, clock
):
    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    session_id = player.session["id"]
    first = StudySession.objects.get(pk=session_id)
    # At least once per video: the first check falls due before the rest of the 300 s video is over.
    delay = (first.face_due_at - first.started_at).total_seconds()
    assert face_gate.MIN_DELAY_SECONDS <= delay <= 0.8 * 300
    # Beat until the check falls due; every beat before it credits in full.
    beats = int(delay // 15)
    for _ in range(beats):
        assert player.beat()["next_action"] == ""
    assert player.credited == pytest.approx(beats * 15)
    # The beat that crosses the due moment credits only the seconds before it, and asks for the check.
    data = player.beat()
    assert data["next_action"] == "verify_face"
    assert "face_check_due" in data["reasons"]
    assert player.credited == pytest.approx(delay, abs=0.01)
    # Playing on without a check earns nothing.
    for _ in range(3):
        data = player.beat()
        assert (data["credited_seconds"], data["next_action"]) == (0, "verify_face")
    # The learner passes the check; crediting goes on from there.
    result = face_check(client, session_id, TURN)
    assert (result["passed"], result["signed_out"]) == (True, False)
    before = player.credited
    data = player.beat()
    assert data["next_action"] == "", data
    assert player.credited - before == pytest.approx(15), data["reasons"]
    # The next check falls due at a random moment, never more than the interval (15 min) after the pass.
    session = StudySession.objects.get(pk=session_id)
    gap = (session.face_due_at - session.face_passed_at).total_seconds()
    assert 0.5 * 900 <= gap <= 900
    assert FaceCheck.objects.filter(user=checks_on, purpose="study", study_session_id=session_id).count() == 1


def test_face_03_too_many_failed_checks_end_the_study_and_sign_the_learner_out(
    lesson, checks_on, api_client, clock
):
    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    session_id = player.session["id"]
    clock.shift(due_in(session_id, StudySession.objects.get(pk=session_id).started_at) + 1)
    assert player.beat(wait=1)["next_action"] == "verify_face"
    # Someone else in front of the camera: refused, with the tries left (the profile allows 3).
    first = face_check(client, session_id, ("biden2.jpg", "biden.jpg", "biden2.jpg"))
    assert (first["passed"], first["reason"], first["tries_left"]) == (False, "different_person", 2)
    assert face_check(client, session_id, ("obama2.jpg",) * 5)["tries_left"] == 1  # a held-up photo
    last = face_check(client, session_id, ("biden2.jpg", "biden.jpg", "biden2.jpg"))
    assert (last["signed_out"], last["tries_left"]) == (True, 0)
    assert StudySession.objects.get(pk=session_id).state == SessionState.FACE_FAILED
    assert not AuthSession.objects.filter(user=checks_on, ended_at__isnull=True).exists()
    assert AuthSession.objects.filter(user=checks_on, end_reason=SessionEndReason.FACE_FAILED).exists()
    # The player's next call learns why it was signed out.
    response = client.post(
        f"/api/v1/study-sessions/{session_id}/heartbeats",
        {"seq": 99, "position": 10, "playing": True, "visible": True, "focused": True, "rate": 1},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert "人脸" in response.json()["message"]


def test_face_03_a_check_not_passed_in_time_signs_the_learner_out(lesson, checks_on, api_client, clock):
    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    session_id = player.session["id"]
    clock.shift(due_in(session_id, StudySession.objects.get(pk=session_id).started_at))
    assert player.beat(wait=1, playing=False)["next_action"] == "verify_face"
    # The page stays open and paused, the check never done: past the profile's 180 s the learner is signed out.
    for _ in range(11):
        data = player.beat(playing=False)
    assert data["next_action"] == "verify_face"
    data = player.beat(wait=20, playing=False)
    assert data["next_action"] == "signed_out"
    assert "face_check_timeout" in data["reasons"]
    assert StudySession.objects.get(pk=session_id).state == SessionState.FACE_FAILED
    assert AuthSession.objects.filter(user=checks_on, end_reason=SessionEndReason.FACE_FAILED).exists()


def test_face_01_check_moments_are_random_and_every_video_gets_one(lesson, checks_on, clock):
    session = StudySession(lesson=lesson, enrolment=checks_on.enrolments.get())
    progress = LessonProgress(furthest_position=0)
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    delays = {(face_gate.first_check_at(session, progress, now) - now).total_seconds() for _ in range(50)}
    assert len(delays) > 40  # not a fixed moment a script could wait for
    assert all(60 <= d <= 240 for d in delays)  # within the 300 s video
    progress.furthest_position = 290  # 10 s left: the check still falls inside them
    assert all(
        5 <= (face_gate.first_check_at(session, progress, now) - now).total_seconds() <= 8 for _ in range(20)
    )
    progress.completed_at = now  # a finished lesson is re-watched for nothing: no check needed
    assert face_gate.first_check_at(session, progress, now) is None


def test_face_01_with_checks_off_nothing_is_asked(lesson, world, api_client, clock, settings):
    settings.FACE_CHECKS_WHILE_STUDYING = False
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert StudySession.objects.get(pk=player.session["id"]).face_due_at is None
    for _ in range(20):
        assert player.beat()["next_action"] == ""
