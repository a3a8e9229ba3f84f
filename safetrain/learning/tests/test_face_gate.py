"""FACE-01, FACE-03 with the crediting engine: checks fall due at random moments while studying, crediting stops
until one passes, and failures or a check not passed in time sign the learner out. Real photos, real model."""

from __future__ import annotations

import datetime as dt

import pytest

from safetrain.accounts.models import AuthSession, SessionEndReason
from safetrain.learning import face_gate
from safetrain.learning.models import LessonProgress, SessionState, StudySession
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import Player
from safetrain.proctoring.models import FaceCheck
from safetrain.proctoring.tests.camera import TURN, frames_b64
from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait


@pytest.fixture
def checks_on(settings, world):
    settings.FACE_CHECKS_WHILE_STUDYING = True
    settings.FACE_CHALLENGES = ["turn"]  # what the test photos can show
    approved_photo(world.learner_nanshan, portrait("obama.jpg"), reviewer=world.admin_nanshan)
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
    # The page pauses while the check is due: paused beats earn nothing and keep asking.
    paused_at = player.position
    for _ in range(3):
        data = player.beat(advance=0, playing=False)
        assert (data["credited_seconds"], data["next_action"]) == (0, "verify_face")
    # The learner passes the check; the page goes back to where crediting stopped and crediting goes on.
    result = face_check(client, session_id, TURN)
    assert (result["passed"], result["signed_out"]) == (True, False)
    assert result["resume_position"] == pytest.approx(delay, abs=0.01)
    assert result["resume_position"] < paused_at  # the seconds after the due moment are watched again
    player.position = result["resume_position"]
    before = player.credited
    data = player.beat()
    assert data["next_action"] == "", data
    assert player.credited - before == pytest.approx(15), data["reasons"]
    # The next check falls due at a random moment, never more than the interval (15 min) after the pass.
    session = StudySession.objects.get(pk=session_id)
    gap = (session.face_due_at - session.face_passed_at).total_seconds()
    assert 0.5 * 900 <= gap <= 900
    assert FaceCheck.objects.filter(user=checks_on, purpose="study", study_session_id=session_id).count() == 1


def test_face_01_a_lesson_with_checks_in_it_still_completes_when_watched_to_the_end(
    lesson, checks_on, api_client, clock
):
    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    session_id = player.session["id"]
    data = {}
    history = []
    for _ in range(60):
        data = player.beat(advance=min(15.0, 300 - player.position))  # a real video stops at its end
        history.append((player.position, data["credited_seconds"], data["next_action"], data["reasons"]))
        if player.position >= 300 and not data["next_action"]:
            break
        if data["next_action"] == "verify_face":
            result = face_check(client, session_id, TURN)
            assert result["passed"] is True, result
            player.position = result["resume_position"]
    assert data["completed"] is True, str(history)
    # One watched stretch from the start: no gap was left at the checks (complete allows the last 3 s unwatched).
    watched = LessonProgress.objects.get(lesson=lesson).watched
    assert len(watched) == 1
    assert watched[0][0] == 0
    assert watched[0][1] >= 297
    assert watched[0][1] == pytest.approx(300)
    assert data["lesson_credited"] == pytest.approx(300)


def test_face_03_reopening_the_page_does_not_escape_a_check(lesson, checks_on, api_client, clock):
    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    first = StudySession.objects.get(pk=player.session["id"])
    clock.shift(due_in(first.pk, first.started_at) + 1)
    assert player.beat(wait=1)["next_action"] == "verify_face"
    assert face_check(client, first.pk, ("biden2.jpg", "biden.jpg", "biden2.jpg"))["tries_left"] == 2
    # A reload: the new page is asked at once, and the failure still counts.
    again = Player(client, clock, lesson.pk)
    session = StudySession.objects.get(pk=again.session["id"])
    assert session.face_failures == 1
    assert session.face_due_at <= session.started_at
    data = again.beat()
    assert (data["credited_seconds"], data["next_action"]) == (0, "verify_face")
    # A check still to come keeps its remaining time when the page is opened again: reloading cannot push it away.
    assert face_check(client, session.pk, TURN)["passed"] is True
    due_before = StudySession.objects.get(pk=session.pk).face_due_at
    clock.shift(60)
    third = Player(client, clock, lesson.pk)
    assert StudySession.objects.get(pk=third.session["id"]).face_due_at <= due_before


def test_face_03_no_verdict_from_the_service_costs_no_try(
    lesson, checks_on, api_client, clock, settings, monkeypatch
):
    import time as real_time

    from safetrain.proctoring.engine import DlibProvider

    client = api_client(checks_on)
    player = Player(client, clock, lesson.pk)
    session_id = player.session["id"]
    clock.shift(due_in(session_id, StudySession.objects.get(pk=session_id).started_at) + 1)
    assert player.beat(wait=1)["next_action"] == "verify_face"
    settings.FACE_TIMEOUT_SECONDS = 0.2
    monkeypatch.setattr(DlibProvider, "verify", lambda self, *a, **k: real_time.sleep(1))
    for _ in range(4):  # more than the profile's 3 tries
        result = face_check(client, session_id, TURN)
        assert (result["passed"], result["reason"], result["signed_out"]) == (False, "timeout", False)
        assert result["tries_left"] == 3
    session = StudySession.objects.get(pk=session_id)
    assert (session.state, session.face_failures) == (SessionState.ACTIVE, 0)


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
    progress.furthest_position = 300  # a finished lesson watched again: a check within the interval
    assert all(
        180 <= (face_gate.first_check_at(session, progress, now) - now).total_seconds() <= 720
        for _ in range(20)
    )


def test_face_01_with_checks_off_nothing_is_asked(lesson, world, api_client, clock, settings):
    settings.FACE_CHECKS_WHILE_STUDYING = False
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert StudySession.objects.get(pk=player.session["id"]).face_due_at is None
    for _ in range(20):
        assert player.beat()["next_action"] == ""


def test_acc_07_study_waits_until_the_reference_photo_is_approved(
    lesson, world, api_client, web_client, settings, clock
):
    from safetrain.proctoring.services import (
        reference_photo_approve,
        reference_photo_reject,
        reference_photo_set,
    )

    settings.FACE_CHECKS_WHILE_STUDYING = True
    learner = world.learner_nanshan
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    page = web_client(learner).get(f"/courses/CRED/lessons/{lesson.pk}/").content.decode()
    assert "您的人脸照片正在审核" in page
    client = api_client(learner)  # signing in again ends the browser session (one at a time)
    refused = client.post("/api/v1/study-sessions", {"lesson_id": lesson.pk}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "photo_not_approved")
    assert refused.json()["message"] == "您的人脸照片正在审核，审核通过后才能学习和考试。"
    # Rejected: the reason is given and study still waits.
    reference_photo_reject(template=template, reviewer=world.admin_nanshan, reason="照片模糊，看不清五官")
    refused = client.post("/api/v1/study-sessions", {"lesson_id": lesson.pk}, content_type="application/json")
    assert (
        refused.json()["message"]
        == "您的人脸照片未通过审核：照片模糊，看不清五官。请重新上传清晰的本人正面照片。"
    )
    assert not StudySession.objects.exists()
    template = reference_photo_set(user=learner, data=portrait("obama.jpg", size=(300, 420)), actor=learner)
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    assert Player(client, clock, lesson.pk).session["id"]
    # Where checks while studying are off, the photo's review does not hold study.
    settings.FACE_CHECKS_WHILE_STUDYING = False
    reference_photo_set(user=world.learner_team, data=portrait("obama.jpg"), actor=world.learner_team)
    enrolment_create(learner=world.learner_team, programme=lesson.chapter.course.programmes.get())
    assert Player(api_client(world.learner_team), clock, lesson.pk).session["id"]
