"""`manage.py seed_scale` (the benchmark and restore-drill volume) writes the legal records as the real services
would: a study session with its study records for every enrolment (REC-02), an exam record for every submitted exam,
audit entries on a valid chain (REC-03), and seals over every record (REC-04), so `verify_records` and
`verify_audit_chain` pass on the generated database."""

from __future__ import annotations

import io
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.db.models import Sum

from safetrain.assessment.models import ExamAttempt, ExamRecord
from safetrain.certification.models import Certificate
from safetrain.learning.models import (
    DailyCredit,
    Enrolment,
    LessonProgress,
    SessionState,
    StudyRecord,
    StudyRecordKind,
    StudySession,
)
from safetrain.records.models import AuditEntry, RecordSeal
from safetrain.records.sealing import verify_records
from safetrain.records.services import verify_chain

LEARNERS = 300
ENTERPRISES = 3
SEED = 20261201  # gives revoked certificates at this size


@pytest.fixture
def seeded(db) -> str:
    out = io.StringIO()
    call_command(
        "seed_scale",
        "--learners",
        str(LEARNERS),
        "--enterprises",
        str(ENTERPRISES),
        "--seed",
        str(SEED),
        stdout=out,
    )
    return out.getvalue()


def test_rec_02_every_enrolment_has_a_closed_study_session_with_credited_heartbeats(seeded):
    enrolments = Enrolment.objects.count()
    assert enrolments > 0
    assert StudySession.objects.count() == enrolments
    assert LessonProgress.objects.count() == enrolments
    by_session = defaultdict(list)
    for record in StudyRecord.objects.filter(session__isnull=False).order_by("pk"):
        by_session[record.session_id].append(record)
    sessions = StudySession.objects.all()
    assert set(by_session) == {s.pk for s in sessions}
    for session in sessions:
        records = by_session[session.pk]
        assert 3 <= len(records) <= 8
        start, *beats, end = records
        assert start.kind == StudyRecordKind.PERIOD_START
        assert end.kind == StudyRecordKind.PERIOD_END
        assert end.reasons == [SessionState.CLOSED]
        assert [b.kind for b in beats] == [StudyRecordKind.HEARTBEAT] * len(beats)
        assert [b.seq for b in beats] == list(range(1, len(beats) + 1))
        assert all(b.accepted and b.reasons == [] for b in beats)
        positions = [b.position for b in beats]
        assert positions == sorted(positions)
        times = [r.at for r in records]
        assert times == sorted(times)
        credited = sum(b.credited_seconds for b in beats)
        assert 0 < credited <= len(beats) * 18  # at most interval + tolerance a beat
        assert session.state == SessionState.CLOSED
        assert session.last_seq == len(beats)
        assert session.credited_seconds == pytest.approx(credited)
        assert end.credited_seconds == pytest.approx(credited)
        assert session.ended_at == end.at
        assert session.face_due_at is None or session.face_due_at > session.ended_at
        assert {(r.learner_id, r.enrolment_id, r.lesson_id) for r in records} == {
            (session.learner_id, session.enrolment_id, session.lesson_id)
        }
        assert {(r.ip, r.user_agent) for r in records} == {(session.ip, session.user_agent)}
        assert session.ip
        assert session.user_agent


def test_rec_02_progress_and_daily_credit_add_up_to_the_study_records(seeded):
    cancelled = set(
        StudyRecord.objects.filter(kind=StudyRecordKind.CANCELLED).values_list("enrolment_id", flat=True)
    )
    daily = dict(
        DailyCredit.objects.values("enrolment").annotate(s=Sum("seconds")).values_list("enrolment", "s")
    )
    for progress in LessonProgress.objects.all():
        session = StudySession.objects.get(progress=progress)
        assert daily[progress.enrolment_id] == pytest.approx(session.credited_seconds)
        if progress.enrolment_id in cancelled:
            assert progress.credited_seconds == 0
            assert progress.cancelled_seconds == pytest.approx(session.credited_seconds)
        else:
            assert progress.credited_seconds == pytest.approx(session.credited_seconds)
            assert progress.watched == [[0.0, session.last_position]]


def test_rec_02_every_submitted_exam_has_its_exam_record(seeded):
    attempts = {
        a.pk: a for a in ExamAttempt.objects.filter(submitted_at__isnull=False).select_related("enrolment")
    }
    records = {r.attempt_id: r for r in ExamRecord.objects.all()}
    assert attempts
    assert records.keys() == attempts.keys()
    for pk, record in records.items():
        attempt = attempts[pk]
        assert record.learner_id == attempt.enrolment.learner_id
        assert (record.score, record.total, record.passed) == (attempt.score, attempt.total, attempt.passed)
        assert (record.started_at, record.submitted_at, record.at) == (
            attempt.started_at,
            attempt.submitted_at,
            attempt.submitted_at,
        )
        assert record.submitted_by == attempt.submitted_by == "candidate"
        assert record.ip == attempt.ip
        assert len(record.paper_digest) == 64
    # Studied before the exam started.
    for session in StudySession.objects.filter(enrolment__exam_attempts__isnull=False).distinct():
        assert session.ended_at < ExamAttempt.objects.get(enrolment_id=session.enrolment_id).started_at


def test_rec_03_the_audit_chain_holds_enterprises_roster_imports_and_revocations(seeded):
    assert verify_chain(AuditEntry).ok
    actions = Counter(AuditEntry.objects.values_list("action", flat=True))
    assert actions["org.create"] == ENTERPRISES
    assert actions["enterprise.roster_import"] == ENTERPRISES
    imported = sum(e.detail["created"] for e in AuditEntry.objects.filter(action="enterprise.roster_import"))
    assert imported == LEARNERS
    revoked = Certificate.objects.filter(revoked_at__isnull=False)
    assert revoked.exists()
    assert actions["certificate.revoke"] == revoked.count()
    cancellations = StudyRecord.objects.filter(kind=StudyRecordKind.CANCELLED, session__isnull=True)
    assert set(cancellations.values_list("enrolment_id", flat=True)) == set(
        revoked.values_list("enrolment_id", flat=True)
    )
    assert all(not c.accepted and c.credited_seconds < 0 for c in cancellations)


def test_rec_04_every_record_is_sealed_and_verifies(seeded):
    report = verify_records()
    assert report.ok, report.problems
    assert report.unsealed == {"study": 0, "exam": 0, "offline_test": 0}
    assert report.rows == StudyRecord.objects.count() + ExamRecord.objects.count()
    assert report.seals == RecordSeal.objects.count() >= 2
    out = io.StringIO()
    call_command("verify_records", stdout=out)
    assert "all records match their seals" in out.getvalue()
    call_command("verify_audit_chain", stdout=io.StringIO())
    assert "sealed" in seeded
    assert "audit trail" in seeded
