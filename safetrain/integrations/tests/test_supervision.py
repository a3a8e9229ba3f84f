"""INT-01: records pushed to the provincial supervision platform, every payload signed (Ed25519) and checked by a
reference receiver on 127.0.0.1; retries with back-off after a failure; idempotent by record id and version; a
delivery log; a bad signature refused; revocations pulled, signed by the province, applied to certificates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.utils import timezone

from conftest import make_user
from safetrain.certification import signing
from safetrain.certification.models import Certificate
from safetrain.core.crypto import cipher_of
from safetrain.integrations import supervision
from safetrain.integrations.models import DeliveryAttempt, OutboundRecord, OutboundState
from safetrain.integrations.tests.supervision_server import Province, start
from safetrain.learning.models import LessonProgress
from safetrain.learning.services import enrolment_create
from safetrain.records.models import AuditEntry


@pytest.fixture
def province(settings):
    data = Province(platform_key=signing.exchange_public_key())
    server, url = start(data)
    settings.SUPERVISION_URL = url
    settings.SUPERVISION_PUBLIC_KEY = (
        data.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    yield data
    server.shutdown()


@pytest.fixture
def enrolment(world):
    from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
    from safetrain.catalog.tests.factories import published_programme
    from safetrain.learning.tests.conftest import video_of

    course = course_create(code="SUP-1", title="监管对接课程")
    lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    programme = published_programme("sup-p", [course], required_minutes=1)
    enrolment = enrolment_create(
        learner=make_user(world.ent_nanshan, name="对接学员"),
        programme=programme,
        organisation=world.ent_nanshan,
    )
    LessonProgress.objects.create(enrolment=enrolment, lesson=lesson, credited_seconds=45)
    return enrolment


def test_int_01_records_are_signed_delivered_and_never_queued_twice(province, enrolment):
    queued = supervision.collect()
    assert queued["enrolment"] == 1
    assert queued["study"] == 1
    assert supervision.collect() == {
        "enrolment": 0,
        "study": 0,
        "exam": 0,
        "certificate": 0,
    }  # nothing changed
    assert supervision.deliver_due() == {"delivered": 2}
    stored = {key[0]: body for key, body in province.stored.items()}
    assert set(stored) == {f"enrolment:{enrolment.pk}", f"study:{enrolment.pk}"}
    record = stored[f"enrolment:{enrolment.pk}"]
    assert record["data"]["learner"]["id_number"] == enrolment.learner.id_number
    assert record["data"]["unit"]["name"] == "南山建设公司"
    assert stored[f"study:{enrolment.pk}"]["data"]["credited_minutes"] == 0.75
    # Study goes on: a new version of the study record, delivered; the enrolment is not sent again.
    LessonProgress.objects.filter(enrolment=enrolment).update(credited_seconds=60, updated_at=timezone.now())
    assert supervision.collect()["study"] == 1
    assert supervision.deliver_due() == {"delivered": 1}
    assert len([k for k in province.stored if k[0] == f"study:{enrolment.pk}"]) == 2
    # The receiver is idempotent too: the same version again is a 409, which counts as delivered.
    again = OutboundRecord.objects.filter(kind="enrolment").first()
    OutboundRecord.objects.filter(pk=again.pk).update(state=OutboundState.PENDING)
    assert supervision.deliver_due() == {"delivered": 1}
    assert DeliveryAttempt.objects.filter(record=again).order_by("-pk").first().status_code == 409


def test_int_01_a_failed_delivery_is_retried_with_back_off_and_logged(province, enrolment, settings):
    supervision.collect()
    province.fail_next = 4  # both records fail twice
    assert supervision.deliver_due() == {"pending": 2}
    record = OutboundRecord.objects.get(kind="enrolment")
    assert record.attempts == 1
    assert record.next_attempt_at > timezone.now() + dt.timedelta(seconds=20)
    assert supervision.deliver_due() == {}  # not due yet
    OutboundRecord.objects.update(next_attempt_at=timezone.now())
    assert supervision.deliver_due() == {"pending": 2}
    record.refresh_from_db()
    assert record.attempts == 2
    assert supervision.retry_delay(2) == dt.timedelta(seconds=60)
    assert supervision.retry_delay(20) == dt.timedelta(hours=6)
    OutboundRecord.objects.update(next_attempt_at=timezone.now())
    assert supervision.deliver_due() == {"delivered": 2}
    log = list(DeliveryAttempt.objects.filter(record=record).values_list("status_code", flat=True))
    assert log == [503, 503, 200]
    # The receiver unreachable: an error, not a crash, and another try later.
    settings.SUPERVISION_URL = "http://127.0.0.1:9"
    LessonProgress.objects.filter(enrolment=enrolment).update(credited_seconds=50, updated_at=timezone.now())
    supervision.collect()
    assert supervision.deliver_due() == {"pending": 1}
    assert "ConnectError" in OutboundRecord.objects.filter(state=OutboundState.PENDING).get().last_error


def test_int_01_a_payload_with_a_bad_signature_is_refused_and_not_retried(province, enrolment, settings):
    supervision.collect()
    province.platform_key = Ed25519PrivateKey.generate().public_key()  # the province holds another key
    assert supervision.deliver_due() == {"failed": 2}
    assert len(province.refused) == 2
    assert province.stored == {}
    assert AuditEntry.objects.filter(action="integrations.supervision_failed").count() == 2
    assert supervision.deliver_due() == {}  # failed records wait for an operator


def test_int_01_exam_results_and_certificates_are_pushed_and_revocations_pulled(province, enrolment, world):
    from safetrain.assessment.models import ExamAttempt, PaperRule

    rule = PaperRule.objects.create(
        programme=enrolment.programme, name="卷", duration_minutes=60, pass_mark=80, attempts=2
    )
    now = timezone.now()
    ExamAttempt.objects.create(
        enrolment=enrolment,
        rule=rule,
        number=1,
        started_at=now,
        deadline=now,
        submitted_at=now,
        score=Decimal(90),
        total=Decimal(100),
        passed=True,
    )
    certificate = Certificate.objects.create(
        number="ST26TESTSUPERVISE",
        kind="certificate",
        enrolment=enrolment,
        learner=enrolment.learner,
        programme=enrolment.programme,
        holder_name="对接学员",
        holder_id_masked="4403**********0000",
        programme_name=enrolment.programme.name,
        category="测试",
        class_hours=Decimal("1.0"),
        issuer="安训",
        issued_on=timezone.localdate(),
    )
    supervision.collect()
    supervision.deliver_due()
    kinds = {key[0].split(":")[0] for key in province.stored}
    assert kinds == {"enrolment", "study", "exam", "certificate"}
    # The province revokes it; a forged list is refused whole.
    province.revocations.append(
        {"certificate_number": certificate.number, "reason": "代考", "revoked_at": "2026-12-01"}
    )
    province.revocations.append({"certificate_number": "UNKNOWN", "reason": "x", "revoked_at": "2026-12-01"})
    province.forge_revocations = True
    with pytest.raises(supervision.RevocationsRefused):
        supervision.pull_revocations()
    certificate.refresh_from_db()
    assert certificate.revoked_at is None
    province.forge_revocations = False
    assert supervision.pull_revocations() == 1
    first = province.last_answer  # the genuine, signed answer to since=""
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None
    assert "代考" in certificate.revoked_reason
    assert supervision.pull_revocations() == 0  # the cursor moved on
    assert "since=2&" in province.requests[-1]
    # A recorded answer replayed (signed, but for another request), or one generated long ago, is refused.
    province.revocations.append({"certificate_number": "LATER", "reason": "x", "revoked_at": "2026-12-02"})
    province.replay = (
        b'{"since": "", "generated_at": "2026-01-01T00:00:00+00:00", "items": [], "cursor": "0"}',
        first[1],
    )
    with pytest.raises(supervision.RevocationsRefused, match="bad signature"):
        supervision.pull_revocations()  # a body edited to fit: its signature breaks
    province.replay = first  # genuine, but it answered since="" and another nonce
    with pytest.raises(supervision.RevocationsRefused, match="another request"):
        supervision.pull_revocations()
    province.replay, province.clock_offset_seconds = None, -3600
    with pytest.raises(supervision.RevocationsRefused, match="old"):
        supervision.pull_revocations()
    province.clock_offset_seconds = 0
    assert supervision.pull_revocations() == 0  # LATER is not a certificate here; the cursor moves to 3
    supervision.pull_revocations()
    assert "since=3&" in province.requests[-1]
    # The revocation is a change: the certificate's new version goes back to the province.
    supervision.collect()
    supervision.deliver_due()
    versions = [body for key, body in province.stored.items() if key[0] == f"certificate:{certificate.pk}"]
    assert any(v["data"]["revoked_at"] for v in versions)


def test_int_01_a_change_supersedes_what_waits_reaches_the_province_and_leaves_no_personal_data(
    province, enrolment
):
    from safetrain.learning.models import Enrolment, EnrolmentStatus

    supervision.collect()
    province.fail_next = 2  # both first versions wait for a retry
    supervision.deliver_due()
    # The enrolment is voided meanwhile: its new version supersedes the waiting one, which is never sent.
    enrolment.status = EnrolmentStatus.VOID
    enrolment.save()
    supervision.collect()
    first, second = OutboundRecord.objects.filter(kind="enrolment").order_by("pk")
    assert first.state == "superseded"
    assert first.payload is None
    OutboundRecord.objects.filter(state=OutboundState.PENDING).update(next_attempt_at=timezone.now())
    supervision.deliver_due()
    sent = [body for key, body in province.stored.items() if key[0] == f"enrolment:{enrolment.pk}"]
    assert [body["data"]["status"] for body in sent] == ["void"]
    second.refresh_from_db()
    assert second.state == OutboundState.DELIVERED
    assert second.payload is None  # the ID number and name are not kept once delivered
    # Back to the first content (A -> B -> A): sent again, since the newest version differs.
    Enrolment.objects.filter(pk=enrolment.pk).update(status=EnrolmentStatus.ACTIVE, updated_at=timezone.now())
    assert supervision.collect()["enrolment"] == 1


def test_int_01_the_exchange_key_is_not_the_certificate_key_and_plain_http_is_refused(
    settings, province, enrolment
):
    from django.core.checks import run_checks

    assert signing.key_id(signing.exchange_public_key()) != signing.key_id(signing.public_key())
    # A province that registered the certificates' key instead refuses the pushes.
    province.platform_key = signing.public_key()
    supervision.collect()
    supervision.deliver_due()
    assert province.stored == {}
    assert province.refused
    # Outside DEBUG, a plain http:// address other than this machine is refused, by the checks and at run time.
    settings.DEBUG = False
    settings.SUPERVISION_URL = "http://supervision.example.gov.cn"
    assert [e.id for e in run_checks() if e.id == "safetrain.E101"] == ["safetrain.E101"]
    with pytest.raises(supervision.ExchangeRefused, match="https"):
        supervision.deliver_due()
    settings.SUPERVISION_URL = "https://supervision.example.gov.cn"
    assert not [e for e in run_checks() if e.id == "safetrain.E101"]


def test_int_01_sm2_where_configured_signs_the_pushes_and_checks_the_revocations(settings, world, enrolment):
    from django.core.management import call_command

    from safetrain.integrations import sm2

    settings.SUPERVISION_SIGNATURE = "sm2"
    ours = supervision.signer()
    assert ours.algorithm == "SM2-SM3"
    data = Province(platform_key=ours.public_key, algorithm="SM2-SM3")
    server, url = start(data)
    settings.SUPERVISION_URL = url
    settings.SUPERVISION_PUBLIC_KEY = sm2.public_key_of(data.sm2_key)
    try:
        supervision.collect()
        assert supervision.deliver_due() == {"delivered": 2}
        assert len(data.stored) == 2
        assert data.refused == []
        # The province revokes; a list signed with another SM2 key is refused.
        certificate = Certificate.objects.create(
            number="ST26SM2000001",
            kind="certificate",
            enrolment=enrolment,
            learner=enrolment.learner,
            programme=enrolment.programme,
            holder_name="对接学员",
            holder_id_masked="x",
            programme_name=enrolment.programme.name,
            category="测试",
            class_hours=Decimal("1.0"),
            issuer="安训",
            issued_on=timezone.localdate(),
        )
        data.revocations.append(
            {"certificate_number": certificate.number, "reason": "代考", "revoked_at": "x"}
        )
        data.forge_revocations = True
        with pytest.raises(supervision.RevocationsRefused, match="bad signature"):
            supervision.pull_revocations()
        data.forge_revocations = False
        assert supervision.pull_revocations() == 1
        # A province that registered another key refuses the pushes.
        data.platform_key = sm2.public_key_of(sm2.generate_private_key())
        supervision.collect()
        supervision.deliver_due()
        assert data.refused
    finally:
        server.shutdown()
    import io

    out = io.StringIO()
    call_command("supervision_key", stdout=out)
    assert f"algorithm: SM2-SM3\nkey id: {ours.key_id}\n{ours.public_key}" in out.getvalue()


def raw_payloads() -> list[str | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM integrations_outboundrecord ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_sec_02_a_queued_payload_holds_no_plain_id_number_or_name_and_is_cleared_once_delivered(
    province, enrolment
):
    learner = enrolment.learner
    assert supervision.collect()["enrolment"] == 1
    stored = raw_payloads()
    assert len(stored) == 2
    for raw in stored:
        assert cipher_of(raw) == "fernet"
        assert learner.id_number not in raw
        assert learner.id_number[:6] not in raw
        assert learner.name not in raw
    record = OutboundRecord.objects.get(kind="enrolment")
    assert record.payload["learner"]["id_number"] == learner.id_number  # the ORM reads it back
    assert supervision.deliver_due() == {"delivered": 2}
    assert raw_payloads() == [None, None]
    assert (
        province.stored[(f"enrolment:{enrolment.pk}", record.version)]["data"]["learner"]["name"]
        == "对接学员"
    )


def test_sec_02_without_a_supervision_platform_nothing_is_queued_and_what_waited_is_discarded(
    province, enrolment, settings
):
    url = settings.SUPERVISION_URL
    # Queued while a platform was configured (or by an older release, which queued without one), never delivered:
    # one waits, one failed and waits for an operator.
    supervision.collect()
    OutboundRecord.objects.filter(kind="study").update(state=OutboundState.FAILED)
    settings.SUPERVISION_URL = ""
    assert supervision.collect() == {}
    assert supervision.enqueue("enrolment", enrolment.pk, supervision.enrolment_data(enrolment)) is False
    assert supervision.deliver_due() == {"discarded": 2}
    assert set(OutboundRecord.objects.values_list("state", flat=True)) == {OutboundState.DISCARDED}
    assert raw_payloads() == [None, None]  # no personal data kept for a receiver that does not exist
    entry = AuditEntry.objects.get(action="integrations.supervision_discarded")
    assert entry.detail["kinds"] == {"enrolment": 1, "study": 1}
    assert supervision.deliver_due() == {}  # nothing more to do, no further entries
    assert AuditEntry.objects.filter(action="integrations.supervision_discarded").count() == 1
    # A platform configured later receives every record, the discarded versions included.
    settings.SUPERVISION_URL = url
    queued = supervision.collect()
    assert (queued["enrolment"], queued["study"]) == (1, 1)
    assert supervision.deliver_due() == {"delivered": 2}
    assert {key[0] for key in province.stored} == {f"enrolment:{enrolment.pk}", f"study:{enrolment.pk}"}


def test_sec_02_the_data_migration_encrypts_the_payloads_written_before(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("safetrain.integrations.migrations.0005_encrypted_outbox")
    waiting = OutboundRecord.objects.create(
        kind="enrolment", record_id="1", version="a", payload=None, next_attempt_at=timezone.now()
    )
    delivered = OutboundRecord.objects.create(
        kind="enrolment", record_id="2", version="b", payload=None, next_attempt_at=timezone.now()
    )
    plain = '{"learner": {"id_number": "110101199003077777", "name": "王小五"}}'
    with connection.cursor() as cursor:  # as the table held them before: plain JSON, {} once delivered
        cursor.execute(
            "UPDATE integrations_outboundrecord SET payload = %s WHERE id = %s", [plain, waiting.pk]
        )
        cursor.execute("UPDATE integrations_outboundrecord SET payload = '{}' WHERE id = %s", [delivered.pk])
    migration.encrypt_existing(apps, connection.schema_editor())
    encrypted, cleared = raw_payloads()
    assert cipher_of(encrypted) == "fernet"
    assert "110101199003077777" not in encrypted
    assert "王小五" not in encrypted
    assert cleared is None
    assert OutboundRecord.objects.get(pk=waiting.pk).payload["learner"]["name"] == "王小五"
    migration.encrypt_existing(apps, connection.schema_editor())  # safe to run again
    assert raw_payloads() == [encrypted, None]
