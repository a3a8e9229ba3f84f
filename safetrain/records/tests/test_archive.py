"""REC-01, REC-05, CERT-06: the learner's electronic archive on the page, as Excel and PDF, and the hand-over zip."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile

import pypdfium2 as pdfium
import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from safetrain.assessment import offline
from safetrain.certification.models import Certificate
from safetrain.certification.tests.conftest import committed, shanxi  # noqa: F401 - fixtures
from safetrain.certification.tests.test_certificates import paper, pass_exam, trained
from safetrain.learning.models import LessonProgress, StudySession
from safetrain.proctoring.models import FaceCheck
from safetrain.records.models import AuditEntry


def full_history(world, shanxi, committed):  # noqa: F811
    learner = world.learner_nanshan
    enrolment = trained(world, shanxi, learner, minutes=30)
    started = timezone.now() - dt.timedelta(hours=2)
    StudySession.objects.create(
        learner=learner,
        enrolment=enrolment,
        lesson=shanxi.lesson,
        progress=LessonProgress.objects.get(enrolment=enrolment),
        state="closed",
        started_at=started,
        last_accepted_at=started + dt.timedelta(minutes=2),
        ended_at=started + dt.timedelta(minutes=2),
        credited_seconds=120,
        ip="203.0.113.9",
    )
    FaceCheck.objects.create(
        user=learner, purpose="login", at=started, passed=True, distance=0.31, ip="203.0.113.9"
    )
    with committed():
        pass_exam(learner, shanxi)
    with committed():
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "88"}, actor=world.admin_nanshan
        )
    return enrolment


def test_rec_01_the_archive_holds_every_part_of_the_training(world, shanxi, committed, web_client):  # noqa: F811
    full_history(world, shanxi, committed)
    certificate = Certificate.objects.filter(learner=world.learner_nanshan).first()
    page = web_client(world.learner_nanshan).get("/records/archive/").content.decode()
    for text in (
        "学习记录",
        "203.0.113.9",
        "随堂测试",
        "考试",
        "线下总测",
        "88.0",
        "人脸核验与抓拍",
        "0.310",
        certificate.number,
    ):
        assert text in page, text
    assert world.learner_nanshan.id_number not in page  # masked


def test_rec_01_exports_as_excel_and_pdf(world, shanxi, committed, web_client):  # noqa: F811
    full_history(world, shanxi, committed)
    client = web_client(world.admin_nanshan)
    url = f"/records/archive/{world.learner_nanshan.pk}/"
    workbook = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    assert workbook.sheetnames == [
        "身份信息",
        "培训项目",
        "学习记录",
        "随堂测试",
        "考试",
        "线下总测",
        "人脸核验与抓拍",
        "证书",
    ]
    periods = list(workbook["学习记录"].iter_rows(values_only=True))
    assert periods[0][3] == "开始时间"
    assert periods[1][-1] == "203.0.113.9"
    assert periods[1][5] == "2.0"
    assert len(list(workbook["证书"].iter_rows())) == 3  # header, certificate, hour proof
    pdf = client.get(url, {"format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    text = re.sub(
        r"\s+", "", "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf.content))
    )
    assert "学员电子档案" in text
    assert "203.0.113.9" in text
    assert "线下总测（1条）" in text
    assert AuditEntry.objects.filter(action__startswith="records.archive_export").count() == 2


def test_rec_01_only_the_learner_and_staff_in_scope_see_it(world, shanxi, committed, web_client):  # noqa: F811
    full_history(world, shanxi, committed)
    url = f"/records/archive/{world.learner_nanshan.pk}/"
    assert web_client(world.admin_futian).get(url).status_code == 404
    assert web_client(world.regulator_futian).get(url).status_code == 404
    assert web_client(world.regulator_city).get(url).status_code == 200
    assert web_client(world.learner_team).get(url).status_code == 403


def test_rec_05_hand_over_export_of_a_unit(world, shanxi, committed, tmp_path):  # noqa: F811
    full_history(world, shanxi, committed)
    out = tmp_path / "handover.zip"
    call_command(
        "export_archives", str(out), "--organisation", str(world.ent_nanshan.pk), stdout=io.StringIO()
    )
    with zipfile.ZipFile(out) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        names = {entry["file"] for entry in manifest["files"]}
        assert any(name.endswith(f"{world.learner_nanshan.name}.xlsx") for name in names)
        assert not any(world.learner_futian.name in name for name in names)
        for entry in manifest["files"]:
            assert hashlib.sha256(bundle.read(entry["file"])).hexdigest() == entry["sha256"]


def test_rec_01_text_that_looks_like_a_formula_stays_text(world, web_client):
    learner = world.learner_nanshan
    learner.name = '=HYPERLINK("http://evil.example","点我")'
    learner.save(update_fields=["name"])
    workbook = load_workbook(
        io.BytesIO(web_client(learner).get("/records/archive/", {"format": "xlsx"}).content)
    )
    cell = workbook["身份信息"]["B1"]
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")


def archive_texts(client, url):
    """The archive as the page, the Excel workbook (every cell) and the PDF text."""
    page = client.get(url).content.decode()
    workbook = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    cells = " ".join(
        str(v)
        for sheet in workbook
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    )
    pdf = client.get(url, {"format": "pdf"}).content
    text = re.sub(r"\s+", "", "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf)))
    return page, workbook, cells, text


def test_ux_02_rec_01_face_check_codes_show_as_chinese_on_the_page_in_excel_and_pdf(
    world,
    shanxi,  # noqa: F811
    committed,  # noqa: F811
    web_client,
):
    full_history(world, shanxi, committed)
    FaceCheck.objects.create(
        user=world.learner_nanshan,
        purpose="study",
        at=timezone.now(),
        passed=False,
        reason="not_live",
        challenge="blink",
        ip="203.0.113.9",
    )
    FaceCheck.objects.create(
        user=world.learner_nanshan, purpose="exam", at=timezone.now(), passed=True, challenge="turn"
    )
    client = web_client(world.admin_nanshan)
    page, _workbook, cells, text = archive_texts(client, f"/records/archive/{world.learner_nanshan.pk}/")
    for where in (page, cells, text):
        assert "活体检测未通过" in where
        assert "眨眼" in where
        assert "转头" in where
        for code in ("not_live", "blink", "turn", "study", "valid", "certificate"):
            assert not re.search(rf"\b{code}\b", re.sub(r"<[^>]+>", " ", where)), code


def test_rec_01_the_archive_status_follows_the_exam_and_the_certificate(world, shanxi, committed, web_client):  # noqa: F811
    full_history(world, shanxi, committed)
    client = web_client(world.learner_nanshan)
    page, workbook, _cells, text = archive_texts(client, "/records/archive/")
    programme_rows = list(workbook["培训项目"].iter_rows(values_only=True))
    assert programme_rows[0][4] == "状态"
    assert programme_rows[1][4] == "已发证"
    assert "学习中" not in page
    assert "已发证" in text
    certificate = Certificate.objects.filter(learner=world.learner_nanshan).first()
    certificate.revoked_at = timezone.now()
    certificate.save(update_fields=["revoked_at"])
    assert "证书已撤销" in client.get("/records/archive/").content.decode()


@pytest.mark.parametrize(
    ("facts", "label"),
    [
        ({}, "学习中"),
        ({"credited_seconds": 600}, "学时已满，可参加考试"),
        ({"credited_seconds": 600, "exam_passed": True}, "考试合格"),
        ({"exam_passed": True, "certificate_states": ["valid"]}, "已发证"),
        ({"certificate_states": ["expired"]}, "证书已过期"),
        ({"certificate_states": ["valid", "revoked"]}, "证书已撤销"),
        ({"deadline": dt.date(2026, 1, 1)}, "已过学习期限"),
        ({"enrolment_status": "void"}, "已失效"),
    ],
)
def test_rec_01_programme_state_decision(facts, label):
    from django.utils import translation

    from safetrain.records.archive import programme_state

    given = {
        "enrolment_status": "active",
        "deadline": None,
        "today": dt.date(2026, 6, 1),
        "credited_seconds": 0,
        "required_minutes": 10,
        "certificate_states": [],
        "exam_passed": False,
    } | facts
    with translation.override("zh-hans"):
        assert str(programme_state(**given).label) == label
