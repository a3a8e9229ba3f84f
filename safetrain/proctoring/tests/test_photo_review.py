"""ACC-07 identity binding (实名核验): a reference photo counts only once it is approved, by a reviewer of the
learner's unit or training institution, or by the public-security identity service (a real signed HTTP service on
127.0.0.1, safetrain/proctoring/tests/identity_service.py). Until then no face check compares with it; a rejection
says why; a replaced photo is archived with its file."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import make_user
from safetrain.accounts.models import Notice
from safetrain.certification.documents import _photo
from safetrain.certification.models import Certificate
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.core.pdf import Document
from safetrain.integrations.mediacheck import media_verify
from safetrain.proctoring.group import usable_templates
from safetrain.proctoring.models import DecisionSource, FacePhotoArchive, FaceTemplate, PhotoStatus
from safetrain.proctoring.services import (
    face_passed_since,
    reference_photo_approve,
    reference_photo_reject,
    reference_photo_set,
)
from safetrain.proctoring.tests.camera import TURN, frames_b64, id_photo
from safetrain.proctoring.tests.identity_service import IdentityService
from safetrain.proctoring.tests.test_face_checks import check
from safetrain.proctoring.tests.test_reference_photo import portrait
from safetrain.records.models import AuditEntry

PENDING = "您的人脸照片正在审核，审核通过后才能学习和考试。"


@pytest.fixture(autouse=True)
def turn_challenge(settings):
    settings.FACE_CHALLENGES = ["turn"]


def test_acc_07_a_stand_in_s_own_photo_is_no_reference_until_someone_approves_it(world, api_client):
    learner = world.learner_nanshan
    # The stand-in uploads their own face on the learner's account: it waits, and no check compares with it.
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    assert template.status == PhotoStatus.PENDING
    client = api_client(learner)
    refused = check(client, TURN)
    assert (refused.status_code, refused.json()["code"]) == (403, "photo_pending")
    assert refused.json()["message"] == PENDING
    # Someone who may not review this learner cannot approve it: another unit's admin, a regulator, the learner.
    for outsider in (world.admin_futian, world.regulator_nanshan, learner):
        with pytest.raises(PermissionDenied):
            reference_photo_approve(template=template, reviewer=outsider)
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    assert check(client, TURN).json()["passed"] is True
    entry = AuditEntry.objects.get(action="face.photo_approve")
    assert (entry.actor_id, entry.object_id) == (world.admin_nanshan.pk, str(learner.pk))
    assert Notice.objects.filter(user=learner, title="您的人脸照片已通过审核").exists()
    # Once the photo is replaced, a check started before is not compared with the new one, and a check passed
    # against the earlier photo no longer opens an exam.
    assert face_passed_since(user=learner, purpose="manual", since=template.created_at)
    started = client.post("/api/v1/face-challenges", {"purpose": "manual"}, content_type="application/json")
    reference_photo_set(user=learner, data=portrait("obama.jpg", size=(300, 420)), actor=world.operator)
    answered = client.post(
        "/api/v1/face-checks",
        {"challenge_id": started.json()["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    )
    assert (answered.status_code, answered.json()["code"]) == (403, "photo_pending")
    assert not face_passed_since(user=learner, purpose="manual", since=template.created_at)


def test_acc_07_the_unit_admin_reviews_the_queue_and_a_rejection_says_why(world, web_client, settings):
    learner = world.learner_team  # in a team of the Nanshan company's project
    learner_page = web_client(learner)
    learner_page.post(
        "/proctoring/photo/", {"photo": SimpleUploadedFile("me.jpg", portrait("obama.jpg"), "image/jpeg")}
    )
    first = FaceTemplate.objects.get(user=learner)
    admin = web_client(world.admin_nanshan)
    queue = admin.get("/proctoring/photos/review/").content.decode()
    # Beside the photo: the name, the masked ID number and the unit.
    assert learner.name in queue
    assert learner.masked_id_number in queue
    assert learner.id_number not in queue
    assert world.team.name in queue
    assert f"/proctoring/people/{learner.pk}/photo/image/" in queue
    assert admin.get(f"/proctoring/people/{learner.pk}/photo/image/").status_code == 200
    # Another unit's admin sees nobody's photo here; a learner has no review page.
    assert (
        learner.name not in web_client(world.admin_futian).get("/proctoring/photos/review/").content.decode()
    )
    assert web_client(world.learner_nanshan).get("/proctoring/photos/review/").status_code == 403
    decision = {"photo": first.pk, "sha256": first.photo_sha256}
    # A rejection needs a reason, which the learner reads.
    no_reason = admin.post("/proctoring/photos/review/", {**decision, "decision": "reject", "reason": " "})
    assert no_reason.status_code == 400
    assert "请填写不通过的原因" in no_reason.content.decode()
    done = admin.post(
        "/proctoring/photos/review/", {**decision, "decision": "reject", "reason": "不是本人正面照。"}
    )
    assert done.status_code == 302
    rejected = "您的人脸照片未通过审核：不是本人正面照。请重新上传清晰的本人正面照片。"
    learner_page = web_client(learner)
    assert rejected in learner_page.get("/proctoring/photo/").content.decode()
    assert Notice.objects.filter(user=learner, body=rejected).exists()
    assert AuditEntry.objects.filter(action="face.photo_reject", object_id=str(learner.pk)).exists()
    # A new photo goes back to the queue; the rejected one is archived with its reason, its file kept.
    again = learner_page.post(
        "/proctoring/photo/", {"photo": SimpleUploadedFile("me.jpg", id_photo("biden.jpg"), "image/jpeg")}
    )
    assert again.status_code == 302
    current = FaceTemplate.objects.get(user=learner)
    assert (current.status, current.decision_reason) == (PhotoStatus.PENDING, "")
    archived = FacePhotoArchive.objects.get(user=learner)
    assert (archived.status, archived.decision_reason) == (PhotoStatus.REJECTED, "不是本人正面照")
    assert (archived.photo_name, archived.photo_sha256) == (first.photo_name, first.photo_sha256)
    assert default_storage.exists(archived.photo_name)
    # A decision about the photo the reviewer saw: the old one's digest no longer approves the new one.
    stale = admin.post("/proctoring/photos/review/", {**decision, "decision": "approve"})
    assert stale.status_code == 400
    assert "照片已被更换" in stale.content.decode()
    assert (
        admin.post(
            "/proctoring/photos/review/",
            {"photo": current.pk, "sha256": current.photo_sha256, "decision": "approve"},
        ).status_code
        == 302
    )
    current.refresh_from_db()
    assert (current.status, current.decided_by, current.decision_source) == (
        PhotoStatus.APPROVED,
        world.admin_nanshan,
        DecisionSource.REVIEWER,
    )
    assert f'data-person="{learner.pk}"' not in admin.get("/proctoring/photos/review/").content.decode()
    # Once approved the learner cannot swap it; an operator can, and the approved one is archived too.
    with pytest.raises(PermissionDenied):
        reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    reference_photo_set(user=learner, data=portrait("obama.jpg", size=(300, 420)), actor=world.operator)
    assert list(FacePhotoArchive.objects.filter(user=learner).values_list("status", flat=True)) == [
        PhotoStatus.APPROVED,
        PhotoStatus.REJECTED,
    ]
    assert FaceTemplate.objects.get(user=learner).status == PhotoStatus.PENDING


def test_acc_07_an_institution_admin_reviews_its_own_learners(world, web_client):
    from conftest import make_org
    from safetrain.orgs.models import OrganisationKind

    institution = make_org("南山培训中心", OrganisationKind.INSTITUTION, "440305")
    staff = make_user(institution, "institution_admin", name="培训中心管理员")
    trainee = make_user(institution, name="培训中心学员")
    template = reference_photo_set(user=trainee, data=portrait("obama.jpg"), actor=trainee)
    assert trainee.name in web_client(staff).get("/proctoring/photos/review/").content.decode()
    with pytest.raises(PermissionDenied):
        reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    with pytest.raises(DomainError):
        reference_photo_reject(template=template, reviewer=staff, reason="")
    assert reference_photo_approve(template=template, reviewer=staff).is_approved


@pytest.fixture
def identity(settings):
    running = IdentityService(app_key="safetrain-idv", secret="identity-secret-0123").start()
    settings.IDENTITY_SERVICE_URL = running.url
    settings.IDENTITY_SERVICE_APP_KEY = running.app_key
    settings.IDENTITY_SERVICE_SECRET = running.secret
    settings.IDENTITY_SERVICE_TIMEOUT_SECONDS = 120  # the test's own generous limit: it runs the real model
    yield running
    running.stop()


def test_acc_07_the_identity_service_approves_a_photo_matching_the_id_card_and_leaves_the_rest_to_people(
    world, identity, web_client
):
    nanshan, futian, team = world.learner_nanshan, world.learner_futian, world.learner_team
    identity.id_photos = {nanshan.id_number: id_photo("obama2.jpg"), futian.id_number: id_photo("obama.jpg")}
    # The holder's own face: approved at once, with the service's verdict recorded.
    approved = reference_photo_set(user=nanshan, data=portrait("obama.jpg"), actor=nanshan)
    assert (approved.status, approved.decision_source, approved.identity_result) == (
        PhotoStatus.APPROVED,
        DecisionSource.IDENTITY_SERVICE,
        "match",
    )
    assert approved.decided_by is None
    assert identity.asked[0] == {"id_number": nanshan.id_number, "name": nanshan.name}
    entry = AuditEntry.objects.get(action="face.photo_identity_check", object_id=str(nanshan.pk))
    assert (entry.result, entry.detail["result"], entry.detail["approved"]) == ("success", "match", True)
    assert nanshan.id_number not in str(entry.detail)
    # Someone else's face: not approved, the verdict and the ID-card photo kept for the reviewer.
    mismatch = reference_photo_set(user=futian, data=id_photo("biden.jpg"), actor=futian)
    assert (mismatch.status, mismatch.identity_result) == (PhotoStatus.PENDING, "mismatch")
    assert mismatch.identity_reason == "different_person"
    admin = web_client(world.admin_futian)
    queue = admin.get("/proctoring/photos/review/").content.decode()
    assert "与身份证照片不一致" in queue
    assert f"/proctoring/people/{futian.pk}/id-photo/" in queue
    card = admin.get(f"/proctoring/people/{futian.pk}/id-photo/")
    assert (card.status_code, card.content[:2], card["Cache-Control"]) == (200, b"\xff\xd8", "no-store")
    assert web_client(world.admin_nanshan).get(f"/proctoring/people/{futian.pk}/id-photo/").status_code == 404
    # No ID-card photo on record (a passport, say): waits for a person.
    no_record = reference_photo_set(user=team, data=portrait("obama.jpg"), actor=team)
    assert (no_record.status, no_record.identity_result) == (PhotoStatus.PENDING, "no_record")


def test_acc_07_an_unreachable_or_misconfigured_identity_service_leaves_the_photo_for_people(
    world, identity, settings
):
    learner = world.learner_nanshan
    identity.id_photos = {learner.id_number: id_photo("obama2.jpg")}
    settings.IDENTITY_SERVICE_SECRET = "not-the-secret"
    wrong_key = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    assert (wrong_key.status, wrong_key.identity_result) == (PhotoStatus.PENDING, "unavailable")
    assert identity.requests[-1][1] == 401  # the service refused the bad signature
    settings.IDENTITY_SERVICE_SECRET = identity.secret
    identity.stop()
    down = reference_photo_set(user=learner, data=portrait("obama.jpg", size=(300, 420)), actor=learner)
    assert (down.status, down.identity_result) == (PhotoStatus.PENDING, "unavailable")
    assert AuditEntry.objects.filter(action="face.photo_identity_check", result="failure").count() == 2
    # Plain http to anywhere but this machine is never used.
    settings.IDENTITY_SERVICE_URL = "http://idv.example.cn"
    plain = reference_photo_set(user=learner, data=portrait("obama.jpg", size=(290, 400)), actor=learner)
    assert (plain.status, plain.identity_result) == (PhotoStatus.PENDING, "unavailable")
    reference_photo_approve(template=plain, reviewer=world.admin_nanshan)


def test_acc_07_group_matching_and_certificates_use_approved_photos_only(world):
    learner = world.learner_nanshan
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    assert learner.pk not in usable_templates([learner.pk])

    def photo_on_certificate() -> bool:
        pdf = Document(title="证书")
        pdf.add_page()
        _photo(pdf, Certificate(learner=learner, number="T-1"), 10, 10)
        return b"/Subtype /Image" in bytes(pdf.output())

    assert not photo_on_certificate()
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    assert learner.pk in usable_templates([learner.pk])
    assert photo_on_certificate()


def test_acc_07_the_media_check_covers_archived_photos(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    learner = world.learner_nanshan
    first = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    reference_photo_set(user=learner, data=portrait("obama.jpg", size=(300, 420)), actor=learner)
    assert media_verify().ok
    default_storage.delete(first.photo_name)
    assert [p.split(":")[0] for p in media_verify().problems] == ["archived reference photo missing"]
