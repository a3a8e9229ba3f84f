"""FACE-05: the external face-service slot. The platform talks to a reference service (a real HTTP server on
127.0.0.1 implementing the signed protocol of safetrain.proctoring.remote) exactly as it would to the real one."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from safetrain.core.errors import DomainError
from safetrain.proctoring.models import FaceCheck, FaceTemplate
from safetrain.proctoring.remote import sign
from safetrain.proctoring.services import reference_photo_approve, reference_photo_set
from safetrain.proctoring.tests.camera import TURN
from safetrain.proctoring.tests.face_service import FaceService
from safetrain.proctoring.tests.test_face_checks import check
from safetrain.proctoring.tests.test_reference_photo import portrait


@pytest.fixture
def service(settings):
    running = FaceService(app_key="safetrain-test", secret="service-secret-0123").start()
    settings.FACE_PROVIDER = "safetrain.proctoring.remote.HttpFaceProvider"
    settings.FACE_SERVICE_URL = running.url
    settings.FACE_SERVICE_APP_KEY = running.app_key
    settings.FACE_SERVICE_SECRET = running.secret
    settings.FACE_SERVICE_TIMEOUT_SECONDS = (
        120  # the test's own generous limit: the reference service runs the real model
    )
    settings.FACE_CHALLENGES = ["turn"]
    yield running
    running.stop()


def test_face_05_the_external_service_enrols_and_verifies(world, api_client, service):
    learner = world.learner_nanshan
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    # Only the service's reference id is kept here: the service holds the face data.
    assert json.loads(template.template) in service.references
    assert template.provider == "HttpFaceProvider"
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    client = api_client(learner)
    passed = check(client, TURN).json()
    assert passed["passed"] is True
    assert passed["distance"] < 0.5
    refused = check(client, ("biden2.jpg", "biden.jpg", "biden2.jpg")).json()
    assert (refused["passed"], refused["reason"]) == (False, "different_person")
    assert [status for _path, status in service.requests] == [200, 200, 200]


def test_face_05_a_refused_photo_keeps_the_service_s_reason(world, service):
    with pytest.raises(DomainError) as refused:
        reference_photo_set(
            user=world.learner_nanshan, data=portrait("obama_and_biden.jpg"), actor=world.learner_nanshan
        )
    assert refused.value.code in {"face_multiple_faces", "face_no_face", "face_face_too_small"}
    assert not FaceTemplate.objects.exists()


def test_face_05_a_wrong_key_a_dead_or_slow_service_fails_the_check_and_says_so(
    world, api_client, service, settings
):
    learner = world.learner_nanshan
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    client = api_client(learner)
    settings.FACE_SERVICE_SECRET = "not-the-secret"
    wrong = check(client, TURN).json()
    assert (wrong["passed"], wrong["reason"]) == (False, "service_unavailable")
    assert "服务" in wrong["message"]
    assert service.requests[-1][1] == 401  # the service refused the bad signature
    settings.FACE_SERVICE_SECRET = service.secret
    service.delay_seconds = 2
    settings.FACE_SERVICE_TIMEOUT_SECONDS = 0.5
    assert check(client, TURN).json()["reason"] == "service_unavailable"
    service.delay_seconds = 0
    service.stop()
    assert check(client, TURN).json()["reason"] == "service_unavailable"
    assert FaceCheck.objects.filter(passed=False, reason="service_unavailable").count() == 3
    # Enrolment with the service down changes nothing and says why.
    with pytest.raises(DomainError) as down:
        reference_photo_set(user=world.learner_futian, data=portrait("obama.jpg"), actor=world.learner_futian)
    assert "服务" in down.value.message


def signed(service, path: str, body: bytes, *, nonce: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-App-Key": service.app_key,
        "X-Timestamp": stamp,
        "X-Nonce": nonce,
        "X-Signature": sign(
            service.secret,
            method="POST",
            path=path,
            app_key=service.app_key,
            timestamp=stamp,
            nonce=nonce,
            body=body,
        ),
    }


def test_face_05_the_service_refuses_a_replayed_stale_or_redirected_request(service):
    body = b'{"image":""}'
    headers = signed(service, "/v1/enrol", body, nonce="n-1")
    first = httpx.post(f"{service.url}/v1/enrol", content=body, headers=headers)
    assert first.status_code == 422  # accepted, and no face in an empty image
    assert httpx.post(f"{service.url}/v1/enrol", content=body, headers=headers).status_code == 401  # replayed
    stale = signed(service, "/v1/enrol", body, nonce="n-2", timestamp=int(time.time()) - 3600)
    assert httpx.post(f"{service.url}/v1/enrol", content=body, headers=stale).status_code == 401
    # A signature made for one path does not open another.
    moved = signed(service, "/v1/enrol", body, nonce="n-3")
    assert httpx.post(f"{service.url}/v1/verify", content=body, headers=moved).status_code == 401


def test_face_05_an_unconfigured_or_plain_http_service_is_not_used(world, settings):
    settings.FACE_PROVIDER = "safetrain.proctoring.remote.HttpFaceProvider"
    settings.FACE_SERVICE_URL = ""
    with pytest.raises(DomainError) as unset:
        reference_photo_set(
            user=world.learner_nanshan, data=portrait("obama.jpg"), actor=world.learner_nanshan
        )
    assert unset.value.code == "face_service_unavailable"
    settings.FACE_SERVICE_URL = "http://faces.example.cn"
    settings.FACE_SERVICE_APP_KEY, settings.FACE_SERVICE_SECRET = "k", "s"
    with pytest.raises(DomainError):
        reference_photo_set(
            user=world.learner_nanshan, data=portrait("obama.jpg"), actor=world.learner_nanshan
        )
    assert not FaceTemplate.objects.exists()
