"""ACC-07 and FACE-01 through the pages: the learner's ID photo page (once; an operator replaces it) and the face
check at sign-in that stands before every page when the policy is on."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safetrain.proctoring.models import FaceTemplate
from safetrain.proctoring.services import reference_photo_approve
from safetrain.proctoring.tests.camera import TURN, frames_b64, id_photo
from safetrain.proctoring.tests.test_reference_photo import portrait


def upload(client, url: str, data: bytes, name: str = "me.jpg", **extra):
    return client.post(url, {"photo": SimpleUploadedFile(name, data, "image/jpeg"), **extra})


def test_acc_07_the_learner_uploads_the_photo_on_the_page_until_it_is_approved(world, web_client):
    client = web_client(world.learner_nanshan)
    page = client.get("/proctoring/photo/").content.decode()
    assert "学习前请上传本人照片" in page
    # A refused photo: the page says why and nothing is stored.
    bad = upload(client, "/proctoring/photo/", portrait("obama_and_biden.jpg"))
    assert bad.status_code == 400
    assert "照片中有不止一张人脸" in bad.content.decode()
    assert not FaceTemplate.objects.exists()
    assert upload(client, "/proctoring/photo/", b"not an image").status_code == 400
    assert client.post("/proctoring/photo/", {}).status_code == 400
    # The right photo: it waits for review (and may still be replaced); once approved the page shows it and
    # refuses another upload.
    done = upload(client, "/proctoring/photo/", portrait("obama.jpg"), next="/courses/")
    assert done.status_code == 302
    assert done["Location"] == "/courses/"
    page = client.get("/proctoring/photo/").content.decode()
    assert "您的人脸照片正在审核，审核通过后才能学习和考试" in page
    assert 'data-testid="photo-file"' in page
    reference_photo_approve(template=FaceTemplate.objects.get(), reviewer=world.admin_nanshan)
    page = client.get("/proctoring/photo/").content.decode()
    assert "证件照已于" in page
    assert "只有管理员可以更换" in page
    image = client.get("/proctoring/photo/image/")
    assert image.content[:2] == b"\xff\xd8"
    assert image["Cache-Control"] == "no-store"
    again = upload(client, "/proctoring/photo/", id_photo("biden.jpg"))
    assert again.status_code == 400
    assert "管理员" in again.content.decode()
    # An offsite "next" is never followed.
    assert (
        web_client(world.learner_futian).get("/proctoring/photo/?next=https://evil.example/").context["next"]
        == ""
    )


def test_acc_07_only_an_operator_replaces_someone_s_photo(world, web_client):
    learner = world.learner_nanshan
    upload(web_client(learner), "/proctoring/photo/", portrait("obama.jpg"))
    first = FaceTemplate.objects.get(user=learner).photo_sha256
    url = f"/proctoring/people/{learner.pk}/photo/"
    assert web_client(world.admin_nanshan).get(url).status_code == 404  # a unit admin views, not replaces
    operator = web_client(world.operator)
    assert operator.get(url).status_code == 200
    assert upload(operator, url, portrait("obama.jpg", size=(300, 420))).status_code == 302
    template = FaceTemplate.objects.get(user=learner)
    assert template.photo_sha256 != first
    assert template.replaced_at is not None
    # The unit admin can look at the photo of its own learner; another unit's admin cannot.
    assert web_client(world.admin_nanshan).get(f"{url}image/").status_code == 200
    assert web_client(world.admin_futian).get(f"{url}image/").status_code == 404


@pytest.fixture
def login_checks(settings):
    settings.FACE_CHECK_AT_LOGIN = True
    settings.FACE_CHALLENGES = ["turn"]


def test_face_01_the_check_at_sign_in_comes_before_every_page(world, web_client, login_checks):
    learner = world.learner_nanshan
    client = web_client(learner)
    response = client.get("/courses/")
    assert response.status_code == 302
    assert response["Location"] == "/proctoring/verify/?next=%2Fcourses%2F"
    # Without a photo the check page asks for one first; the photo page itself is open.
    page = client.get("/proctoring/verify/?next=/courses/").content.decode()
    assert "首次核验前请上传本人证件照" in page
    upload(client, "/proctoring/photo/", portrait("obama.jpg"))
    # Until the photo is approved there is nothing to compare with: the page says so.
    page = client.get("/proctoring/verify/?next=/courses/").content.decode()
    assert "您的人脸照片正在审核" in page
    assert 'data-purpose="login"' not in page
    reference_photo_approve(template=FaceTemplate.objects.get(user=learner), reviewer=world.admin_nanshan)
    page = client.get("/proctoring/verify/?next=/courses/").content.decode()
    assert 'data-purpose="login"' in page
    # A failed check changes nothing; a passed one opens the pages for this signed-in session.
    challenge = client.post("/api/v1/face-challenges", {"purpose": "login"}, content_type="application/json")
    failed = client.post(
        "/api/v1/face-checks",
        {
            "challenge_id": challenge.json()["id"],
            "frames": frames_b64("biden2.jpg", "biden.jpg", "biden2.jpg"),
        },
        content_type="application/json",
    ).json()
    assert (failed["passed"], failed["tries_left"]) == (False, 2)
    assert client.get("/courses/").status_code == 302
    challenge = client.post("/api/v1/face-challenges", {"purpose": "login"}, content_type="application/json")
    passed = client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    ).json()
    assert passed["passed"] is True
    assert client.get("/courses/").status_code == 200
    assert client.get("/proctoring/verify/?next=/courses/")["Location"] == "/courses/"
    # Staff are not asked (they have two-factor sign-in instead).
    assert web_client(world.admin_nanshan).get("/").status_code == 200


def test_face_01_the_api_is_closed_too_until_the_sign_in_check_passes(
    world, web_client, api_client, login_checks
):
    learner = world.learner_nanshan
    upload(web_client(learner), "/proctoring/photo/", portrait("obama.jpg"))
    reference_photo_approve(template=FaceTemplate.objects.get(user=learner), reviewer=world.admin_nanshan)
    # A token client (the player, a script) and the browser session are both held at the check (one at a time:
    # signing in again ends the other session).
    for make in (api_client, web_client):
        client = make(learner)
        refused = client.get("/api/v1/enrollments")
        assert refused.status_code == 403
        assert refused.json()["code"] == "face_check_required"
        assert client.get("/api/v1/me").status_code == 200
    # Failures add up on the signed-in session, also for token clients, up to sign-out.
    client = api_client(learner)
    for tries_left in (2, 1, 0):
        challenge = client.post(
            "/api/v1/face-challenges", {"purpose": "login"}, content_type="application/json"
        )
        body = client.post(
            "/api/v1/face-checks",
            {
                "challenge_id": challenge.json()["id"],
                "frames": frames_b64("biden2.jpg", "biden.jpg", "biden2.jpg"),
            },
            content_type="application/json",
        ).json()
        assert body["tries_left"] == tries_left
    assert body["signed_out"] is True
    assert client.get("/api/v1/me").status_code == 401


def test_face_01_a_learner_who_is_also_a_unit_admin_is_checked_at_sign_in(world, web_client, login_checks):
    from safetrain.accounts.services import membership_grant

    membership_grant(user=world.admin_nanshan, organisation=world.ent_nanshan, role="learner")
    world.admin_nanshan._memberships_cache = None
    assert web_client(world.admin_nanshan).get("/")["Location"].startswith("/proctoring/verify/")
    # Operators and regulators sign in with a second factor instead.
    assert web_client(world.operator).get("/").status_code == 200
