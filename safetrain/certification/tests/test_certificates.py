"""CERT-01..05: certificates issued when the rules are met, validity and expiry, hour proofs, public verification,
the signed QR read back from the rendered PDF by a real decoder, tampering, and revocation on confirmed cheating."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import time_machine
import zxingcpp
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import make_org, make_user
from safetrain.accounts.models import Role
from safetrain.accounts.services import membership_grant
from safetrain.assessment import offline
from safetrain.assessment.exams import answer_save, attempt_submit, exam_start
from safetrain.assessment.models import QuestionKind
from safetrain.assessment.tests.conftest import studied
from safetrain.assessment.tests.test_offline import paper, trained
from safetrain.certification import services, signing
from safetrain.certification.documents import certificate_pdf
from safetrain.certification.models import Certificate, CertificateKind, CertificateState, Mailing
from safetrain.core.crypto import cipher_of
from safetrain.core.errors import DomainError
from safetrain.learning.models import Enrolment, ReviewDecision
from safetrain.learning.review import suspicion_decide
from safetrain.orgs.models import OrganisationKind
from safetrain.proctoring.models import FaceTemplate
from safetrain.records.models import AuditEntry


def pass_exam(learner, programme, *, right: int | None = None):
    """Take the exam through the services, answering `right` questions right (all by default), and submit."""
    attempt = exam_start(learner=learner, programme=programme)
    for index, item in enumerate(attempt.items):
        good = right is None or index < right
        if item["kind"] == QuestionKind.FILL:
            value = [accepted[0] if good else "不知道" for accepted in item["answer"]]
        else:
            positions = [pos for pos, original in enumerate(item["order"]) if original in item["answer"]]
            if not good:
                others = [pos for pos in range(len(item["order"])) if pos not in positions]
                positions = others[:1] if others else positions[:1]
            value = positions
        answer_save(learner=learner, attempt_id=attempt.pk, question_id=item["question"], value=value)
    return attempt_submit(attempt_id=attempt.pk, learner=learner)


def qr_from_pdf(data: bytes) -> str:
    """Render the PDF with PDFium and read its QR code with zxing-cpp, as a phone would from the printout."""
    page = pdfium.PdfDocument(data)[0]
    results = zxingcpp.read_barcodes(page.render(scale=3).to_pil())
    codes = [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1
    return codes[0]


def pdf_text(data: bytes) -> str:
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(data))
    return re.sub(r"\s+", "", text)


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def test_cert_01_issued_when_the_exam_is_passed_and_not_before(world, programme, committed):
    learner = world.learner_nanshan
    studied(learner, programme)
    enrolment = Enrolment.objects.get(learner=learner, programme=programme)
    assert services.problems(enrolment) == ["考试尚未合格。"]
    with committed():
        failed = pass_exam(learner, programme, right=5)
    assert failed.passed is False
    assert not Certificate.objects.exists()
    with committed():
        passed = pass_exam(learner, programme)
    assert passed.passed
    certificate = Certificate.objects.get(enrolment=enrolment)
    assert certificate.kind == CertificateKind.CERTIFICATE
    assert certificate.exam_score == passed.score
    assert certificate.holder_name == learner.name
    assert "*" in certificate.holder_id_masked
    assert certificate.state == CertificateState.VALID
    assert len(certificate.number) == 16
    assert certificate.number.startswith("ST")
    # Tianjin: 12 months' validity, the day before the anniversary.
    today = timezone.localdate()
    assert certificate.valid_until == services.add_months(today, 12) - dt.timedelta(days=1)
    assert services.issue_due(enrolment) == []  # once only
    assert not Certificate.objects.filter(
        kind=CertificateKind.HOUR_PROOF
    ).exists()  # no offline part in Tianjin
    assert AuditEntry.objects.filter(action="certificate.issue.certificate").count() == 1


def test_cert_01_unfinished_study_blocks_the_certificate(world, programme):
    enrolment = Enrolment.objects.create(
        learner=world.learner_team, programme=programme, opened_on=timezone.localdate()
    )
    found = services.problems(enrolment)
    assert len(found) >= 2  # courses and minutes, and the exam
    assert services.issue_due(enrolment) == []


def test_cert_02_validity_follows_the_programme_and_expires(world, programme, committed):
    programme.certificate_validity_months = 3  # as Shenzhen construction
    programme.save()
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    assert certificate.valid_until == services.add_months(certificate.issued_on, 3) - dt.timedelta(days=1)
    assert certificate.state_on(certificate.valid_until) == CertificateState.VALID
    assert certificate.state_on(certificate.valid_until + dt.timedelta(days=1)) == CertificateState.EXPIRED
    with time_machine.travel(
        dt.datetime.combine(certificate.valid_until, dt.time(12)) + dt.timedelta(days=1)
    ):
        assert services.verification(certificate.number)["state"] == CertificateState.EXPIRED


def test_add_months_keeps_month_ends():
    assert services.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert services.add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert services.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)


def test_cert_01_cert_03_shanxi_needs_the_offline_test_then_issues_both_documents(world, shanxi, committed):
    enrolment = trained(world, shanxi, world.learner_nanshan, minutes=30)
    with committed():
        pass_exam(world.learner_nanshan, shanxi)
    assert not Certificate.objects.exists()  # the offline total test is still to come
    assert services.problems(enrolment) == ["线下总测尚未合格。"]
    with committed():
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "86"}, actor=world.admin_nanshan
        )
    documents = {c.kind: c for c in Certificate.objects.filter(enrolment=enrolment)}
    assert set(documents) == {CertificateKind.CERTIFICATE, CertificateKind.HOUR_PROOF}
    proof = documents[CertificateKind.HOUR_PROOF]
    assert proof.number.startswith("XS")
    assert proof.joint_issuer == world.ent_nanshan.name
    assert proof.offline_score == Decimal("86.0")
    assert proof.offline_minutes == 30
    assert proof.valid_until is None
    text = pdf_text(certificate_pdf(proof))
    assert "安全培训学时证明" in text
    assert world.ent_nanshan.name in text
    assert "测试成绩均在80分以上" in text


def test_cert_03_no_hour_proof_below_80_in_the_online_exam(world, shanxi, committed):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    shanxi.exam_pass_mark = 60
    shanxi.save()
    with committed():
        attempt = pass_exam(world.learner_nanshan, shanxi, right=60)
    assert attempt.passed
    assert attempt.score * 100 / attempt.total < 80
    with committed():
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "90"}, actor=world.admin_nanshan
        )
    kinds = set(Certificate.objects.filter(enrolment=enrolment).values_list("kind", flat=True))
    assert kinds == {CertificateKind.CERTIFICATE}


def test_cert_04_the_qr_in_the_pdf_carries_a_signature_that_checks_offline(
    world, programme, tmp_path, committed
):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    data = certificate_pdf(certificate)
    text = pdf_text(data)
    assert "安全生产培训合格证明" in text
    assert certificate.number in text
    assert certificate.holder_id_masked in text
    scanned = qr_from_pdf(data)
    assert (
        scanned.startswith(f"http://testserver/verify/{certificate.number}?s=")
        or f"/verify/{certificate.number}?s=" in scanned
    )
    # Offline, with only the published public key (PEM), as a regulator's app would.
    published = signing.load_public_key(signing.public_key_pem())
    checked = signing.check_qr_text(scanned, published)
    assert checked.signature_valid
    assert checked.payload["n"] == certificate.number
    assert checked.payload["id"] == certificate.holder_id_masked
    # Tampering: change the validity date inside the signed payload.
    token = scanned.split("?s=")[1]
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["v"] = "2099-12-31"
    forged_body = (
        base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )
    forged = scanned.split("?s=")[0] + f"?s={forged_body}.{signature}"
    assert not signing.check_qr_text(forged, published).signature_valid
    # A signed payload moved onto another number is refused too.
    other = scanned.replace(f"/verify/{certificate.number}?", "/verify/ST26AAAAAAAAAAAA?")
    assert signing.check_qr_text(other, published).problem == "number_mismatch"
    # The command line reads the PDF itself (or a photo) and checks offline with a given key file.
    pdf_file = tmp_path / "certificate.pdf"
    pdf_file.write_bytes(data)
    key_file = tmp_path / "key.pem"
    key_file.write_text(signing.public_key_pem())
    out = io.StringIO()
    call_command("verify_certificate_qr", str(pdf_file), "--public-key", str(key_file), stdout=out)
    assert "签名有效" in out.getvalue()
    png = tmp_path / "photo.png"
    pdfium.PdfDocument(data)[0].render(scale=2).to_pil().save(png)
    call_command("verify_certificate_qr", str(png), stdout=io.StringIO())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = tmp_path / "stranger.pem"
    stranger.write_text(signing.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "verify_certificate_qr", str(pdf_file), "--public-key", str(stranger), stderr=io.StringIO()
        )
    assert exit_info.value.code == 1


def test_cert_04_public_verification_page_and_api(world, programme, client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    page = client.get(f"/verify/{certificate.number}")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-state="valid"' in body
    assert certificate.holder_id_masked in body
    assert world.learner_nanshan.name not in body  # the name is masked
    token = services.qr_text(certificate).split("?s=")[1]
    signed = client.get(f"/verify/{certificate.number}", {"s": token}).content.decode()
    assert "二维码数字签名有效" in signed
    api = client.get(f"/api/v1/certificates/{certificate.number}/verify", {"s": token}).json()
    assert api["state"] == "valid"
    assert api["signature_valid"] is True
    assert api["matches_record"] is True
    assert api["holder"] != world.learner_nanshan.name
    assert client.get(f"/verify/{certificate.number.lower()}").status_code == 200  # typed in lower case
    missing = client.get("/api/v1/certificates/ST26ZZZZZZZZZZZZ/verify")
    assert missing.status_code == 404
    assert missing.json()["message"] == "没有这个编号的证书，请核对编号后重试。"
    assert client.get("/verify/ST26ZZZZZZZZZZZZ").status_code == 404
    assert client.get("/verify/", {"number": f" {certificate.number.lower()} "}).status_code == 302
    pem = client.get("/verify/public-key.pem").content.decode()
    assert signing.load_public_key(pem)
    assert client.get("/api/v1/certificates/public-key").json()["key_id"] == signing.key_id()


def test_cert_04_verification_is_rate_limited(world, client, settings):
    settings.VERIFY_RATE_PER_MINUTE = 3
    codes = [client.get("/api/v1/certificates/ST26ZZZZZZZZZZZZ/verify").status_code for _ in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    assert client.get("/verify/ST26ZZZZZZZZZZZZ").status_code == 429


def test_cert_05_confirmed_cheating_revokes_and_verification_says_so(world, programme, client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    enrolment = certificate.enrolment
    suspicion_decide(
        enrolment=enrolment, decision=ReviewDecision.CONFIRMED, reason="他人代学", reviewer=world.operator
    )
    certificate.refresh_from_db()
    assert certificate.state == CertificateState.REVOKED
    assert certificate.revoked_reason == "他人代学"
    result = client.get(f"/api/v1/certificates/{certificate.number}/verify").json()
    assert result["state"] == "revoked"
    assert result["revoked_on"] == timezone.localdate().isoformat()
    assert 'data-state="revoked"' in client.get(f"/verify/{certificate.number}").content.decode()
    assert services.issue_due(enrolment) == []  # never issued again in that programme
    assert AuditEntry.objects.filter(action="certificate.revoke").count() == 1


def test_cert_06_holders_download_their_documents_others_cannot(world, programme, web_client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    mine = web_client(world.learner_nanshan)
    listing = mine.get("/certificates/").content.decode()
    assert certificate.number in listing
    pdf = mine.get(f"/certificates/{certificate.number}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert web_client(world.learner_team).get(f"/certificates/{certificate.number}.pdf").status_code == 404
    assert web_client(world.admin_futian).get(f"/certificates/{certificate.number}.pdf").status_code == 404
    assert web_client(world.admin_nanshan).get(f"/certificates/{certificate.number}.pdf").status_code == 200


def test_cert_07_the_institution_records_the_courier_and_the_learner_sees_it(
    world, programme, web_client, committed
):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    institution = make_org("南山培训中心", OrganisationKind.INSTITUTION, "440305")
    staff = make_user(institution, Role.INSTITUTION_ADMIN, name="机构管理员")
    client = web_client(world.operator)
    url = f"/certificates/{certificate.number}/mailing/"
    form = {
        "recipient": "南山学员",
        "phone": "138 0013 8000",
        "address": "深圳市南山区科技园 1 号",
        "courier": "顺丰速运",
        "tracking_number": "sf 1234 5678 901",
        "sent_on": timezone.localdate().isoformat(),
    }
    bad = client.post(url, {**form, "tracking_number": "12"})
    assert bad.status_code == 400
    assert "快递单号为 6 至 30 位字母或数字" in bad.content.decode()
    assert client.post(url, {**form, "sent_on": "2099-01-01"}).status_code == 400
    assert client.post(url, form).status_code == 302
    mailing = certificate.mailings.get()
    assert mailing.tracking_number == "SF12345678901"
    assert mailing.phone == "13800138000"
    assert client.post(url, form).status_code == 400  # the same waybill twice
    listing = web_client(world.learner_nanshan).get("/certificates/").content.decode()
    assert "SF12345678901" in listing
    assert web_client(staff).get(url).status_code == 404  # not in the institution's scope
    assert web_client(world.learner_nanshan).get(url).status_code == 403
    issued = web_client(world.admin_nanshan).get("/certificates/issued/").content.decode()
    assert certificate.number in issued
    assert (
        certificate.number not in web_client(world.admin_futian).get("/certificates/issued/").content.decode()
    )


def test_cert_01_programmes_without_an_exam_are_issued_by_the_sweep(world, programme):
    profile = programme.profile
    profile.exam_preset = ""
    profile.save()
    studied(world.learner_nanshan, programme)
    assert services.issue_sweep() == 1
    certificate = Certificate.objects.get()
    assert certificate.exam_score is None
    assert services.issue_sweep() == 0


def test_cert_04_garbage_tokens_get_a_clean_answer(world, programme, client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    number = Certificate.objects.get().number
    deep = base64.urlsafe_b64encode(b"[" * 1000).decode().rstrip("=")
    for token in ("a.b", "....", "x" * 5000, "中文.签名", f"{deep}.{deep}", "e30.AAAA"):
        answer = client.get(f"/api/v1/certificates/{number}/verify", {"s": token})
        assert answer.status_code == 200, token
        assert answer.json()["signature_valid"] is False
        assert client.get(f"/verify/{number}", {"s": token}).status_code == 200
    assert client.get("/verify/", {"number": f"ｓｔ{number[2:].lower()}"})["Location"].endswith(number)


def test_cert_06_a_learner_membership_gives_no_access_to_other_units_certificates(
    world, programme, web_client, committed
):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    membership_grant(user=world.admin_futian, organisation=world.ent_nanshan, role=Role.LEARNER)
    futian = web_client(world.admin_futian)
    assert futian.get(f"/certificates/{certificate.number}.pdf").status_code == 404
    assert certificate.number not in futian.get("/certificates/issued/").content.decode()


def test_cert_01_a_broken_photo_still_prints(world, programme, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    default_storage.save("faces/broken.bin", ContentFile(b"not an encrypted photo"))
    FaceTemplate.objects.create(
        user=world.learner_nanshan,
        template="x",
        photo_name="faces/broken.bin",
        width=295,
        height=412,
        provider="test",
        status="approved",  # only an approved photo is printed: this one is, and is broken
    )
    assert certificate_pdf(Certificate.objects.get()).startswith(b"%PDF")


def test_cert_07_the_phone_is_required(world, programme, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    with pytest.raises(DomainError, match="手机号码"):
        services.mailing_record(
            certificate=Certificate.objects.get(),
            recipient="张三",
            phone="无",
            address="深圳",
            courier="顺丰",
            tracking_number="SF1234567",
            sent_on=timezone.localdate(),
        )


def test_cert_01_a_retake_passed_after_the_deadline_still_earns_the_certificate(world, shanxi, committed):
    enrolment = trained(world, shanxi, world.learner_nanshan, minutes=30)
    with committed():
        pass_exam(world.learner_nanshan, shanxi)
    offline.scores_enter(paper=paper(world, shanxi), scores={enrolment.pk: "60"}, actor=world.admin_nanshan)
    Enrolment.objects.filter(pk=enrolment.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    with committed():
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "85"}, actor=world.admin_nanshan
        )
    kinds = set(Certificate.objects.filter(enrolment=enrolment).values_list("kind", flat=True))
    assert kinds == {CertificateKind.CERTIFICATE, CertificateKind.HOUR_PROOF}


def raw_certificate(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT holder_name, holder_name_masked FROM certification_certificate WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_sec_03_the_holder_name_is_encrypted_and_the_public_check_shows_it_masked_without_decrypting(
    world, programme, client, committed, settings
):
    learner = world.learner_nanshan
    learner.name = "欧阳娜娜"
    learner.save()
    studied(learner, programme)
    with committed():
        pass_exam(learner, programme)
    certificate = Certificate.objects.get()
    raw_name, raw_masked = raw_certificate(certificate.pk)
    assert cipher_of(raw_name) == "fernet"
    assert "欧阳" not in raw_name
    assert raw_masked == "欧**娜"
    assert certificate.holder_name == "欧阳娜娜"  # the PDF and the staff pages read the full name
    assert "欧阳娜娜" in pdf_text(certificate_pdf(certificate))
    token = services.qr_text(certificate).split("?s=")[1]
    # The public check never decrypts: it answers the same with the encryption keys gone.
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    api = client.get(f"/api/v1/certificates/{certificate.number}/verify", {"s": token}).json()
    assert api["holder"] == "欧**娜"
    assert api["matches_record"] is True
    page = client.get(f"/verify/{certificate.number}", {"s": token}).content.decode()
    assert "欧**娜" in page
    assert "欧阳娜娜" not in page
    assert "二维码数字签名有效" in page


def test_sec_03_a_mailing_keeps_the_recipient_phone_and_address_encrypted(world, programme, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    mailing = services.mailing_record(
        certificate=Certificate.objects.get(),
        recipient="南山收件人",
        phone="13800138000",
        address="深圳市南山区科技园 1 号",
        courier="顺丰速运",
        tracking_number="SF12345678901",
        sent_on=timezone.localdate(),
        actor=world.operator,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recipient, phone, address FROM certification_mailing WHERE id = %s", [mailing.pk]
        )
        raw = cursor.fetchone()
    assert [cipher_of(value) for value in raw] == ["fernet"] * 3
    for plain in ("南山收件人", "13800138000", "科技园"):
        assert plain not in "".join(raw)
    again = Mailing.objects.get(pk=mailing.pk)
    assert (again.recipient, again.phone) == ("南山收件人", "13800138000")


def test_sec_03_the_data_migration_encrypts_names_and_addresses_written_before(world, programme, committed):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("safetrain.certification.migrations.0002_encrypted_holder_and_mailing")
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    mailing = services.mailing_record(
        certificate=certificate,
        recipient="收件人",
        phone="13800138000",
        address="地址",
        courier="EMS",
        tracking_number="EMS1234567",
        sent_on=timezone.localdate(),
    )
    with connection.cursor() as cursor:  # as the tables held them before: plain, no masked copy
        cursor.execute(
            "UPDATE certification_certificate SET holder_name = %s, holder_name_masked = '' WHERE id = %s",
            ["张三丰", certificate.pk],
        )
        cursor.execute(
            "UPDATE certification_mailing SET recipient = %s, phone = %s, address = %s WHERE id = %s",
            ["李四", "13900139000", "福田区 2 号", mailing.pk],
        )
    migration.encrypt_existing(apps, connection.schema_editor())
    raw_name, raw_masked = raw_certificate(certificate.pk)
    assert cipher_of(raw_name) == "fernet"
    assert raw_masked == "张*丰"
    assert Certificate.objects.get().holder_name == "张三丰"
    assert services.verification(certificate.number)["holder"] == "张*丰"
    again = Mailing.objects.get(pk=mailing.pk)
    assert (again.recipient, again.phone, again.address) == ("李四", "13900139000", "福田区 2 号")
    migration.encrypt_existing(apps, connection.schema_editor())  # safe to run again
    assert raw_certificate(certificate.pk) == (raw_name, raw_masked)


def forged_token(certificate: Certificate) -> str:
    """The certificate's QR token with its validity date changed inside the signed payload."""
    token = services.qr_text(certificate).split("?s=")[1]
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["v"] = "2099-12-31"
    forged = (
        base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )
    return f"{forged}.{signature}"


def test_cert_04_a_tampered_qr_never_shows_a_green_valid_verdict(world, programme, client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    page = client.get(f"/verify/{certificate.number}", {"s": forged_token(certificate)}).content.decode()
    assert 'data-state="altered"' in page
    assert 'data-state="valid"' not in page
    assert "msg success" not in page  # nothing green
    assert "无效：二维码已被篡改或并非本平台签发" in page
    assert "平台登记的该编号信息（仅供核对）" in page
    # A genuine signature over facts the register no longer holds: not valid either, and says why.
    token = services.qr_text(certificate).split("?s=")[1]
    Certificate.objects.filter(pk=certificate.pk).update(valid_until=dt.date(2030, 1, 1))
    page = client.get(f"/verify/{certificate.number}", {"s": token}).content.decode()
    assert "无效：二维码与平台登记信息不符" in page
    assert "msg success" not in page
    # Without a QR token the register's answer is shown as before.
    assert "msg success" in client.get(f"/verify/{certificate.number}").content.decode()


def test_cert_04_cert_06_a_short_programme_shows_minutes_not_zero_hours(world, programme, client, committed):
    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    Certificate.objects.filter(pk=certificate.pk).update(class_hours=Decimal("0.0"))
    type(programme).objects.filter(pk=programme.pk).update(required_minutes=20)
    certificate = Certificate.objects.select_related("programme").get()
    page = client.get(f"/verify/{certificate.number}").content.decode()
    assert re.search(r'data-testid="verify-hours">20 分钟<', page)
    assert "0.0" not in page
    text = pdf_text(certificate_pdf(certificate))
    assert "培训学时20分钟" in text
    assert "0.0学时" not in text


def test_cert_04_hours_show_as_class_hours_when_there_are_some(world, programme, committed):
    from django.utils import translation

    from safetrain.core.display import class_hours_text

    with translation.override("zh-hans"):
        assert class_hours_text(Decimal("32.0"), 1440) == "32.0 学时"
        assert class_hours_text(Decimal("0.0"), 5) == "5 分钟"
        assert class_hours_text(Decimal("0.04"), 0) == "不足 1 分钟"


def test_cert_01_the_issued_list_is_searched_by_name_and_exported_to_excel(
    world, programme, web_client, committed
):
    from openpyxl import load_workbook

    studied(world.learner_nanshan, programme)
    with committed():
        pass_exam(world.learner_nanshan, programme)
    certificate = Certificate.objects.get()
    admin = web_client(world.admin_nanshan)
    found = admin.post("/certificates/issued/", {"name": "南山学员"}).content.decode()
    assert certificate.number in found
    assert certificate.number not in admin.post("/certificates/issued/", {"name": "别人"}).content.decode()
    # A name is personal data: it is never read from the address.
    assert certificate.number in admin.get("/certificates/issued/", {"name": "别人"}).content.decode()
    export = admin.post("/certificates/issued/", {"name": "南山学员", "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "编号"
    assert rows[1][0] == certificate.number
    assert rows[1][2] == "南山学员"
    assert rows[1][8] == "有效"
    assert AuditEntry.objects.get(action="certification.issued_export").detail == {
        "number": False,
        "name": True,
    }
    # another unit's admin exports nothing of it
    other = web_client(world.admin_futian).post("/certificates/issued/", {"format": "xlsx"})
    assert len(list(load_workbook(io.BytesIO(other.content)).active.iter_rows())) == 1
