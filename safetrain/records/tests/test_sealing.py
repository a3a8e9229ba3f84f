"""REC-02, REC-04: study and exam records are sealed into a hash chain, tampering is found online and in archive
files, records past their online retention move to a checksummed archive file and still verify, and nothing can
change a record."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from safetrain.assessment.models import ExamRecord, OfflineTestResult
from safetrain.assessment.tests.conftest import programme, studied  # noqa: F401 - fixture
from safetrain.certification.tests.test_certificates import pass_exam
from safetrain.learning.models import Enrolment, StudyRecord, StudyRecordKind
from safetrain.records.dbtriggers import disable_for_test_sql
from safetrain.records.models import AppendOnlyError, ArchiveFile, RecordSeal, RetentionGate
from safetrain.records.sealing import archive_old_records, retention_plan, seal_all, verify_records


def write_study(enrolment: Enrolment, n: int, *, at: dt.datetime | None = None) -> list[StudyRecord]:
    at = at or timezone.now() - dt.timedelta(minutes=5)
    return [
        StudyRecord.objects.create(
            at=at + dt.timedelta(seconds=15 * i),
            learner_id=enrolment.learner_id,
            enrolment=enrolment,
            lesson=enrolment.programme.lesson,
            kind=StudyRecordKind.HEARTBEAT,
            seq=i,
            position=15.0 * i,
            credited_seconds=15.0,
            reasons=[],
            ip="10.0.0.8",
            user_agent="测试浏览器",
        )
        for i in range(n)
    ]


@pytest.fixture
def enrolment(world, programme):  # noqa: F811
    studied(world.learner_nanshan, programme)
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan, programme=programme)
    enrolment.programme.lesson = programme.lesson
    return enrolment


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_rec_04_study_and_exam_records_are_sealed_and_verify(world, programme, enrolment, capsys):  # noqa: F811
    write_study(enrolment, 7)
    pass_exam(world.learner_nanshan, programme)
    assert ExamRecord.objects.count() == 1
    record = ExamRecord.objects.get()
    assert record.passed
    assert len(record.answers) == 70
    sealed = seal_all()
    assert sealed == {"study": 7, "exam": 1, "offline_test": 0}
    assert seal_all() == {"study": 0, "exam": 0, "offline_test": 0}  # nothing new
    seals = list(RecordSeal.objects.order_by("seq"))
    assert [s.source for s in seals] == ["study", "exam"]
    assert seals[1].prev_hash == seals[0].hash
    report = verify_records()
    assert report.ok, report.problems
    assert report.rows == 8
    call_command("verify_records")
    out = capsys.readouterr().out
    assert "all records match their seals" in out
    assert "audit chain" in out


def test_rec_04_seals_cover_contiguous_ranges_and_a_late_row_inside_one_is_found(world, enrolment):
    first = write_study(enrolment, 3)
    seal_all()
    ahead = StudyRecord.objects.create(
        id=first[-1].pk + 5,
        at=timezone.now(),
        learner_id=enrolment.learner_id,
        enrolment=enrolment,
        lesson=enrolment.programme.lesson,
        kind=StudyRecordKind.HEARTBEAT,
        credited_seconds=15.0,
    )
    assert seal_all()["study"] == 1
    seals = list(RecordSeal.objects.filter(source="study").order_by("seq"))
    assert seals[0].last_id == first[-1].pk
    assert (seals[1].first_id, seals[1].last_id) == (seals[0].last_id + 1, ahead.pk)
    assert verify_records().ok
    # A record appearing later with an id inside a sealed range (a forged insert) is never silently skipped.
    StudyRecord.objects.create(
        id=first[-1].pk + 2,
        at=timezone.now(),
        learner_id=enrolment.learner_id,
        enrolment=enrolment,
        lesson=enrolment.programme.lesson,
        kind=StudyRecordKind.HEARTBEAT,
        credited_seconds=900.0,
    )
    assert seal_all()["study"] == 0
    report = verify_records()
    assert not report.ok
    assert "records removed or inserted" in report.problems[0]


def test_rec_04_nothing_in_the_application_can_change_a_record(world, programme, enrolment):  # noqa: F811
    [row] = write_study(enrolment, 1)
    pass_exam(world.learner_nanshan, programme)
    exam = ExamRecord.objects.get()
    for obj in (row, exam):
        obj.ip = "1.2.3.4"
        with pytest.raises(AppendOnlyError):
            obj.save()
        with pytest.raises(AppendOnlyError):
            obj.delete()
    with pytest.raises(AppendOnlyError):
        StudyRecord.objects.filter(pk=row.pk).update(credited_seconds=999)
    with pytest.raises(AppendOnlyError):
        ExamRecord.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        OfflineTestResult.objects.all().update(score=100)
    for table, column in (("learning_studyrecord", "credited_seconds"), ("assessment_examrecord", "score")):
        with pytest.raises(DatabaseError), transaction.atomic():
            raw(f'UPDATE "{table}" SET {column} = 999')
        with pytest.raises(DatabaseError), transaction.atomic():
            raw(f'DELETE FROM "{table}"')


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_rec_04_a_changed_or_removed_record_is_found(world, enrolment, tamper):
    rows = write_study(enrolment, 5)
    seal_all()
    if connection.vendor == "postgresql":
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while deferred FK checks are pending
    for statement in disable_for_test_sql(connection.vendor, "learning_studyrecord"):
        raw(statement)
    if tamper == "edit":
        raw('UPDATE "learning_studyrecord" SET credited_seconds = 600 WHERE id = %s', [rows[2].pk])
    else:
        raw('DELETE FROM "learning_studyrecord" WHERE id = %s', [rows[2].pk])
    report = verify_records()
    assert not report.ok
    expected = "a record was altered" if tamper == "edit" else "records removed or inserted"
    assert expected in report.problems[0]
    with pytest.raises(CommandError):
        call_command("verify_records")


def test_rec_02_old_records_move_to_a_checksummed_archive_and_still_verify(world, enrolment, capsys):
    now = timezone.now()
    old = write_study(enrolment, 6, at=now - dt.timedelta(days=800))  # more than 24 months
    seal_all()  # sealed as they came in (every minute)
    recent = write_study(enrolment, 4, at=now - dt.timedelta(days=30))
    seal_all()
    plan = retention_plan("study")
    assert plan is not None
    assert plan.rows == 6
    dry = archive_old_records("study", dry_run=True)
    assert dry["rows"] == 6
    assert dry["dry_run"] is True
    assert StudyRecord.objects.count() == 10  # a dry run moves nothing
    moved = archive_old_records("study")
    assert moved["rows"] == 6
    assert StudyRecord.objects.count() == 4
    assert set(StudyRecord.objects.values_list("pk", flat=True)) == {r.pk for r in recent}
    archive = ArchiveFile.objects.get()
    assert archive.rows == 6
    assert archive.keep_until >= timezone.localdate() + dt.timedelta(days=365 * 6)
    with default_storage.open(archive.name, "rb") as handle:
        data = handle.read()
    lines = gzip.decompress(data).splitlines()
    header = json.loads(lines[0])
    assert header["source"] == "study"
    assert [json.loads(line)["id"] for line in lines[1:]] == [r.pk for r in old]
    assert json.loads(lines[1])["user_agent"] == "测试浏览器"
    report = verify_records()
    assert report.ok, report.problems
    assert (report.archived_rows, report.rows) == (6, 4)
    assert archive_old_records("study")["rows"] == 0  # nothing more to move
    # A changed archive file is found by its checksum.
    default_storage.delete(archive.name)
    default_storage.save(archive.name, ContentFile(gzip.compress(b"{}\n")))
    report = verify_records()
    assert not report.ok
    assert "checksum does not match" in report.problems[0]


def test_rec_02_records_younger_than_the_online_period_stay(world, enrolment, settings):
    write_study(enrolment, 3, at=timezone.now() - dt.timedelta(days=600))  # 20 months
    seal_all()
    assert retention_plan("study") is None
    assert archive_old_records("study", dry_run=True)["rows"] == 0
    with time_machine.travel(timezone.now() + dt.timedelta(days=200)):
        assert archive_old_records("study", dry_run=True)["rows"] == 3


def test_rec_02_retention_below_the_rules_is_refused():
    import subprocess
    import sys

    code = "import os; os.environ['RECORD_ONLINE_MONTHS']='12'; import django; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings_test'); django.setup()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "Retention below GD-C 8" in result.stderr


def test_rec_04_the_admin_shows_records_but_never_changes_them(world, programme, enrolment, web_client):  # noqa: F811
    [row] = write_study(enrolment, 1)
    pass_exam(world.learner_nanshan, programme)
    seal_all()
    client = web_client(world.operator)
    for path, obj in (
        ("learning/studyrecord", row),
        ("assessment/examrecord", ExamRecord.objects.get()),
        ("records/recordseal", RecordSeal.objects.first()),
    ):
        assert client.get(f"/admin/{path}/").status_code == 200
        assert client.post(f"/admin/{path}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.post(f"/admin/{path}/{obj.pk}/change/", {"ip": "1.1.1.1"}).status_code == 403
        assert client.get(f"/admin/{path}/add/").status_code == 403
    assert StudyRecord.objects.get(pk=row.pk).ip == "10.0.0.8"
    assert verify_records().ok


def test_rec_04_the_api_has_no_way_to_change_a_record(db):
    """Every write the API offers, reviewed: each appends (a heartbeat, an answer before submission, a check) or
    acts on the caller's own session; none updates or deletes a study, exam or audit record."""
    from config.api import api

    writes = {
        (method.upper(), path)
        for path, operations in api.get_openapi_schema()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    assert writes == {
        (
            "PUT",
            "/api/v1/attempts/{attempt_id}/answers/{question_id}",
        ),  # an open paper's answer, before submission
        ("POST", "/api/v1/attempts/{attempt_id}/events"),
        # an identity check during the exam: appends a check; one not passed may end (submit) the attempt
        ("POST", "/api/v1/attempts/{attempt_id}/face-challenges"),
        ("POST", "/api/v1/attempts/{attempt_id}/face-checks"),
        ("POST", "/api/v1/attempts/{attempt_id}/submit"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("PUT", "/api/v1/auth/password"),
        ("POST", "/api/v1/exams/{code}/attempts"),
        ("POST", "/api/v1/face-challenges"),
        ("POST", "/api/v1/face-checks"),
        ("POST", "/api/v1/learners/search"),
        ("POST", "/api/v1/lessons/{lesson_id}/quiz"),
        ("POST", "/api/v1/quiz-attempts/{attempt_id}/submit"),
        ("POST", "/api/v1/study-sessions"),
        ("POST", "/api/v1/study-sessions/{session_id}/close"),
        ("POST", "/api/v1/study-sessions/{session_id}/heartbeats"),
    }
    assert not [
        path for _method, path in writes if "record" in path or "certificate" in path or "audit" in path
    ]


def test_rec_02_the_retention_gate_lets_only_archived_ranges_go(world, enrolment):
    rows = write_study(enrolment, 2)
    seal_all()
    with transaction.atomic():
        gate = RetentionGate.objects.create(table_name="learning_studyrecord")
        with pytest.raises(DatabaseError), transaction.atomic():
            raw('DELETE FROM "learning_studyrecord" WHERE id = %s', [rows[0].pk])  # no archive file holds it
        gate.delete()
    assert StudyRecord.objects.filter(pk=rows[0].pk).exists()
