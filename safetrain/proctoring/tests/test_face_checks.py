"""FACE-01/02/04 through the API: a check with camera frames, its verdict and its encrypted snapshot."""

from __future__ import annotations

import base64
import io
import time

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from safetrain.proctoring.engine import DlibProvider
from safetrain.proctoring.models import FaceCheck
from safetrain.proctoring.services import reference_photo_set
from safetrain.proctoring.tests.test_engine import photo
from safetrain.proctoring.tests.test_reference_photo import portrait
from safetrain.records.models import AuditEntry


@pytest.fixture
def enrolled(world):
    reference_photo_set(user=world.learner_nanshan, data=portrait("obama.jpg"), actor=world.learner_nanshan)
    return world.learner_nanshan


def frames_of(*names: str) -> list[str]:
    """Camera-sized JPEG frames, aspect kept (a squashed face measures as someone else)."""
    out = []
    for name in names:
        image = Image.open(io.BytesIO(photo(name))).convert("RGB")
        image.thumbnail((640, 640))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        out.append(base64.b64encode(buffer.getvalue()).decode())
    return out


def check(client, frames: list[str], **extra):
    return client.post(
        "/api/v1/face-checks",
        {"purpose": "study", "frames": frames, **extra},
        content_type="application/json",
    )


def test_face_04_the_enrolled_learner_passes_and_the_snapshot_is_kept_encrypted(enrolled, api_client):
    response = check(api_client(enrolled), frames_of("obama2.jpg"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["passed"] is True
    assert body["distance"] < 0.5
    stored = FaceCheck.objects.get(pk=body["id"])
    with default_storage.open(stored.snapshot_name, "rb") as fh:
        assert fh.read(4) == b"gAAA"  # encrypted at rest
    assert stored.ip == "127.0.0.1"
    assert AuditEntry.objects.filter(action="face.check", result="success").exists()


def test_face_01_someone_else_in_front_of_the_camera_is_refused_and_recorded(enrolled, api_client):
    body = check(api_client(enrolled), frames_of("biden2.jpg")).json()
    assert body["passed"] is False
    assert body["reason"] == "different_person"
    assert FaceCheck.objects.get(pk=body["id"]).passed is False


def test_face_02_a_held_up_photo_fails_the_liveness_challenge(enrolled, api_client):
    body = check(
        api_client(enrolled), frames_of("obama2.jpg", "obama2.jpg", "obama2.jpg"), challenge="blink"
    ).json()
    assert body["passed"] is False
    assert body["reason"] == "not_live"


def test_face_01_without_a_reference_photo_or_with_bad_frames_it_says_what_to_do(world, enrolled, api_client):
    response = check(api_client(world.learner_futian), frames_of("obama2.jpg"))
    assert response.status_code == 400
    assert response.json()["code"] == "no_reference_photo"
    client = api_client(enrolled)
    assert check(client, ["not base64 at all!!"]).json()["code"] == "invalid_frame"
    assert check(client, []).status_code == 422
    assert check(client, frames_of("obama2.jpg"), purpose="party").json()["code"] == "invalid_purpose"


def test_face_05_a_check_that_takes_too_long_is_answered_as_failed(
    enrolled, api_client, settings, monkeypatch
):
    settings.FACE_TIMEOUT_SECONDS = 0.2
    monkeypatch.setattr(DlibProvider, "verify", lambda self, *a, **k: time.sleep(1))
    body = check(api_client(enrolled), frames_of("obama2.jpg")).json()
    assert body["passed"] is False
    assert body["reason"] == "timeout"


def test_face_04_snapshots_are_seen_by_the_learners_unit_and_operators_only(
    enrolled, world, api_client, web_client
):
    body = check(api_client(enrolled), frames_of("obama2.jpg")).json()
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
