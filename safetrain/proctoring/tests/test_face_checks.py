"""FACE-01/02/04 through the API: a check with camera frames, its verdict and its encrypted snapshot."""

from __future__ import annotations

import time

import pytest
from django.core.files.storage import default_storage

from safetrain.proctoring.engine import DlibProvider
from safetrain.proctoring.models import FaceCheck
from safetrain.proctoring.tests.camera import TURN, frames_b64
from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait
from safetrain.records.models import AuditEntry


@pytest.fixture
def enrolled(world):
    approved_photo(world.learner_nanshan, portrait("obama.jpg"), reviewer=world.admin_nanshan)
    return world.learner_nanshan


@pytest.fixture(autouse=True)
def turn_challenge(settings):
    # The test photos can show a head turn (two real photos at different angles), not a blink.
    settings.FACE_CHALLENGES = ["turn"]


def check(client, names: tuple[str, ...] | list[str], *, purpose: str = "manual", **extra):
    """A whole check as the page makes it: ask for a challenge, then send the camera frames."""
    challenge = client.post(
        "/api/v1/face-challenges", {"purpose": purpose, **extra}, content_type="application/json"
    )
    if challenge.status_code != 200:
        return challenge
    assert challenge.json()["challenge"] == "turn"
    frames = (
        frames_b64(*names) if names and isinstance(names[0], str) and names[0].endswith(".jpg") else names
    )
    return client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames},
        content_type="application/json",
    )


def test_face_04_the_enrolled_learner_passes_and_the_snapshot_is_kept_encrypted(enrolled, api_client):
    response = check(api_client(enrolled), TURN)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["passed"] is True
    assert body["message"] == "身份核验通过。"
    assert body["distance"] < 0.5
    stored = FaceCheck.objects.get(pk=body["id"])
    with default_storage.open(stored.snapshot_name, "rb") as fh:
        assert fh.read(4) == b"gAAA"  # encrypted at rest
    assert stored.ip == "127.0.0.1"
    assert AuditEntry.objects.filter(action="face.check", result="success").exists()


def test_face_01_someone_else_in_front_of_the_camera_is_refused_and_recorded(enrolled, api_client):
    body = check(api_client(enrolled), ("biden2.jpg", "biden.jpg", "biden2.jpg")).json()
    assert body["passed"] is False
    assert body["reason"] == "different_person"
    assert "不符" in body["message"]
    assert FaceCheck.objects.get(pk=body["id"]).passed is False


def test_face_02_a_held_up_photo_fails_the_liveness_challenge(enrolled, api_client):
    body = check(api_client(enrolled), ("obama2.jpg",) * 5).json()
    assert body["passed"] is False
    assert body["reason"] == "not_live"
    assert FaceCheck.objects.get(pk=body["id"]).challenge == "turn"


def test_face_01_without_a_reference_photo_or_with_bad_frames_it_says_what_to_do(world, enrolled, api_client):
    response = check(api_client(world.learner_futian), TURN)
    assert response.status_code == 400
    assert response.json()["code"] == "no_reference_photo"
    assert "证件照" in response.json()["message"]
    client = api_client(enrolled)
    assert check(client, ["not base64 at all!!"]).json()["code"] == "invalid_frame"
    assert check(client, []).status_code == 422
    assert check(client, TURN, purpose="party").json()["code"] == "invalid_purpose"
    # A study check needs the learner's own playing session.
    assert check(client, TURN, purpose="study", study_session_id=999).json()["code"] == "session_not_active"
    assert not FaceCheck.objects.exists()  # nothing was recorded for refused input


def test_face_02_asking_again_gives_the_same_challenge_until_it_is_answered(enrolled, api_client, settings):
    settings.FACE_CHALLENGES = ["blink", "turn"]
    client = api_client(enrolled)
    ask = lambda: client.post(  # noqa: E731
        "/api/v1/face-challenges", {"purpose": "manual"}, content_type="application/json"
    ).json()
    first = ask()
    assert all(ask() == first for _ in range(10))  # no shopping for the challenge a recording can fake
    # Another page asking (here: the sign-in check) retires the open challenge.
    client.post("/api/v1/face-challenges", {"purpose": "login"}, content_type="application/json")
    stale = client.post(
        "/api/v1/face-checks",
        {"challenge_id": first["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    )
    assert stale.json()["code"] == "challenge_expired"


def test_face_02_a_challenge_is_answered_once_and_only_in_time(enrolled, world, api_client, settings):
    client = api_client(enrolled)
    challenge = client.post("/api/v1/face-challenges", {"purpose": "manual"}, content_type="application/json")
    body = {"challenge_id": challenge.json()["id"], "frames": frames_b64(*TURN)}
    assert client.post("/api/v1/face-checks", body, content_type="application/json").json()["passed"]
    replay = client.post("/api/v1/face-checks", body, content_type="application/json")
    assert replay.status_code == 400
    assert replay.json()["code"] == "challenge_expired"
    # Someone else's challenge is refused too, and so is one answered too late.
    approved_photo(world.learner_futian, portrait("obama.jpg"), reviewer=world.admin_futian)
    other = api_client(world.learner_futian)
    theirs = other.post("/api/v1/face-challenges", {"purpose": "manual"}, content_type="application/json")
    stolen = {"challenge_id": theirs.json()["id"], "frames": frames_b64(*TURN)}
    assert client.post("/api/v1/face-checks", stolen, content_type="application/json").status_code == 400
    settings.FACE_CHALLENGE_TTL_SECONDS = 0
    late = other.post("/api/v1/face-checks", stolen, content_type="application/json")
    assert late.json()["code"] == "challenge_expired"
    assert FaceCheck.objects.count() == 1


def test_face_05_a_check_that_takes_too_long_is_answered_as_failed(
    enrolled, api_client, settings, monkeypatch
):
    settings.FACE_TIMEOUT_SECONDS = 0.2
    monkeypatch.setattr(DlibProvider, "verify", lambda self, *a, **k: time.sleep(1))
    body = check(api_client(enrolled), TURN).json()
    assert body["passed"] is False
    assert body["reason"] == "timeout"


def test_face_04_snapshots_are_seen_by_the_learners_unit_and_operators_only(
    enrolled, world, api_client, web_client
):
    body = check(api_client(enrolled), TURN).json()
    own_admin = web_client(world.admin_nanshan)
    page = own_admin.get("/proctoring/checks/").content.decode()
    assert enrolled.name in page
    image = own_admin.get(f"/proctoring/checks/{body['id']}/snapshot/")
    assert image.status_code == 200
    assert image.content[:2] == b"\xff\xd8"  # the decrypted JPEG
    assert image["Cache-Control"] == "no-store"
    assert web_client(world.operator).get(f"/proctoring/checks/{body['id']}/snapshot/").status_code == 200
    other_admin = web_client(world.admin_futian)
    assert enrolled.name not in other_admin.get("/proctoring/checks/").content.decode()
    assert other_admin.get(f"/proctoring/checks/{body['id']}/snapshot/").status_code == 404
    assert web_client(world.learner_futian).get("/proctoring/checks/").status_code == 403


def test_face_04_old_challenges_are_purged_but_checks_are_kept(enrolled, api_client):
    import datetime as dt

    from django.utils import timezone

    from safetrain.proctoring.models import FaceChallenge
    from safetrain.proctoring.tasks import housekeeping

    check(api_client(enrolled), TURN)
    FaceChallenge.objects.create(
        user=enrolled, purpose="manual", challenge="turn", issued_at=timezone.now() - dt.timedelta(days=2)
    )
    assert housekeeping() == 1
    assert FaceChallenge.objects.count() == 1  # the fresh one stays
    assert FaceCheck.objects.count() == 1  # the check and its snapshot are archive records
