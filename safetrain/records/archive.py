"""A learner's electronic archive (电子档案, REC-01) and its exports: the page, an Excel workbook, a PDF, and the
hand-over export of a whole unit (REC-05)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.styles import Font

from safetrain.core.pdf import FONT, NEXT_LINE, Document


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class Archive:
    learner: Any
    identity: list[tuple[str, str]]
    sections: list[Section]
    made_at: dt.datetime


def _t(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


class ProgrammeState(models.TextChoices):
    """Where a learner stands in a programme, as the archive shows it (REC-01): from the records themselves, so it
    follows the exam and the certificate, not only the enrolment's own status."""

    STUDYING = "studying", _("Studying")
    EXAM_OPEN = "exam_open", _("Study done, exam open")
    PASSED = "passed", _("Exam passed")
    CERTIFIED = "certified", _("Certified")
    CERTIFICATE_EXPIRED = "certificate_expired", _("Certificate expired")
    REVOKED = "revoked", _("Certificate revoked")
    EXPIRED = "expired", _("Study deadline passed")
    VOID = "void", _("Void")


def programme_state(
    *,
    enrolment_status: str,
    deadline: dt.date | None,
    today: dt.date,
    credited_seconds: float,
    required_minutes: int,
    certificate_states: list[str],
    exam_passed: bool,
) -> ProgrammeState:
    """Decide the state from the facts; certificates first, then the exam, the deadline and the study time."""
    if "revoked" in certificate_states:
        return ProgrammeState.REVOKED
    if "valid" in certificate_states:
        return ProgrammeState.CERTIFIED
    if certificate_states:
        return ProgrammeState.CERTIFICATE_EXPIRED
    if enrolment_status == "void":
        return ProgrammeState.VOID
    if exam_passed:
        return ProgrammeState.PASSED
    if deadline is not None and today > deadline:
        return ProgrammeState.EXPIRED
    if credited_seconds >= required_minutes * 60:
        return ProgrammeState.EXAM_OPEN
    return ProgrammeState.STUDYING


def learner_archive(learner: Any) -> Archive:
    """Everything the platform holds on the learner's training, oldest first within each section."""
    from safetrain.assessment.models import ExamAttempt, OfflineTestResult
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment, QuizAttempt, StudySession
    from safetrain.proctoring.models import FaceCheck

    units = "、".join(
        sorted(
            {m.organisation.name for m in learner.memberships.select_related("organisation") if m.is_active}
        )
    )
    identity = [
        ("姓名", learner.name),
        ("身份证号", learner.masked_id_number),
        ("工作单位", units),
        ("手机号码", learner.masked_phone if hasattr(learner, "masked_phone") else ""),
    ]
    enrolments = list(
        Enrolment.objects.filter(learner=learner)
        .select_related("programme", "organisation")
        .order_by("created_at")
    )
    certificate_list = list(
        Certificate.objects.filter(learner=learner).select_related("programme").order_by("issued_on", "pk")
    )
    certificate_states: dict[int, list[str]] = {}
    for cert in certificate_list:
        certificate_states.setdefault(cert.enrolment_id, []).append(str(cert.state))
    passed_exams = set(
        ExamAttempt.objects.filter(enrolment__learner=learner, kind="exam", passed=True).values_list(
            "enrolment_id", flat=True
        )
    ) | set(
        OfflineTestResult.objects.filter(enrolment__learner=learner, passed=True).values_list(
            "enrolment_id", flat=True
        )
    )
    today = timezone.localdate()
    programmes = Section(
        "培训项目",
        ["培训项目", "报名单位", "开通日期", "截止日期", "状态", "已认定学时（分钟）", "要求（分钟）"],
    )
    for e in enrolments:
        credited = sum(p.credited_seconds for p in e.progress.all())
        programmes.rows.append(
            [
                e.programme.name,
                e.organisation.name if e.organisation else "",
                e.opened_on.isoformat(),
                e.deadline.isoformat() if e.deadline else "",
                str(
                    programme_state(
                        enrolment_status=e.status,
                        deadline=e.deadline,
                        today=today,
                        credited_seconds=credited,
                        required_minutes=e.programme.required_minutes,
                        certificate_states=certificate_states.get(e.pk, []),
                        exam_passed=e.pk in passed_exams,
                    ).label
                ),
                _minutes(credited),
                e.programme.required_minutes,
            ]
        )
    periods = Section(
        "学习记录", ["培训项目", "课程", "课时", "开始时间", "结束时间", "认定（分钟）", "IP 地址"]
    )
    for s in (
        StudySession.objects.filter(learner=learner)
        .select_related("enrolment__programme", "lesson__chapter__course")
        .order_by("started_at")
    ):
        periods.rows.append(
            [
                s.enrolment.programme.name,
                s.lesson.chapter.course.title,
                s.lesson.title,
                _t(s.started_at),
                _t(s.ended_at or s.last_accepted_at),
                _minutes(s.credited_seconds),
                s.ip,
            ]
        )
    quizzes = Section("随堂测试", ["培训项目", "课时", "第几次", "交卷时间", "得分", "结果"])
    for q in (
        QuizAttempt.objects.filter(enrolment__learner=learner, submitted_at__isnull=False)
        .select_related("enrolment__programme", "lesson")
        .order_by("submitted_at")
    ):
        quizzes.rows.append(
            [
                q.enrolment.programme.name,
                q.lesson.title,
                q.try_number,
                _t(q.submitted_at),
                q.score,
                "合格" if q.passed else "不合格",
            ]
        )
    exams = Section("考试", ["培训项目", "类型", "第几次", "开始时间", "交卷时间", "得分", "满分", "结果"])
    for a in (
        ExamAttempt.objects.filter(enrolment__learner=learner, submitted_at__isnull=False)
        .select_related("enrolment__programme")
        .order_by("submitted_at")
    ):
        exams.rows.append(
            [
                a.enrolment.programme.name,
                "考试" if a.kind == "exam" else "模拟考试",
                a.number or "",
                _t(a.started_at),
                _t(a.submitted_at),
                str(a.score),
                str(a.total),
                "合格" if a.passed else "不合格",
            ]
        )
    offline_tests = Section(
        "线下总测", ["培训项目", "场次", "试卷编号", "成绩", "结果", "录入时间", "更正原因"]
    )
    for r in (
        OfflineTestResult.objects.filter(enrolment__learner=learner)
        .select_related("enrolment__programme", "paper")
        .order_by("entered_at")
    ):
        offline_tests.rows.append(
            [
                r.enrolment.programme.name,
                "补考" if r.sitting == 2 else "总测",
                r.paper.number,
                str(r.score),
                "合格" if r.passed else "不合格",
                _t(r.entered_at),
                r.reason,
            ]
        )
    checks = Section(
        "人脸核验与抓拍", ["时间", "环节", "结果", "原因", "相似距离", "活体动作", "抓拍", "IP 地址"]
    )
    for c in FaceCheck.objects.filter(user=learner).order_by("at"):
        checks.rows.append(
            [
                _t(c.at),
                c.get_purpose_display(),
                "通过" if c.passed else "未通过",
                c.reason_label,
                f"{c.distance:.3f}" if c.distance is not None else "",
                c.challenge_label,
                "有" if c.snapshot_name else "",
                c.ip,
            ]
        )
    certificates = Section("证书", ["编号", "类型", "培训项目", "学时", "发证日期", "有效期至", "状态"])
    for cert in certificate_list:
        certificates.rows.append(
            [
                cert.number,
                cert.get_kind_display(),
                cert.programme_name,
                cert.hours_text,
                cert.issued_on.isoformat(),
                cert.valid_until.isoformat() if cert.valid_until else "",
                cert.get_state_display(),
            ]
        )
    return Archive(
        learner,
        identity,
        [programmes, periods, quizzes, exams, offline_tests, checks, certificates],
        timezone.now(),
    )


def _append(sheet: Any, values: list[Any]) -> None:
    """A row of text as text: a value like "=HYPERLINK(…)" typed into a name never becomes a formula."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and cell.value[:1] in FORMULA_STARTS:
            cell.data_type = "s"


FORMULA_STARTS = ("=", "+", "-", "@")


def archive_xlsx(archive: Archive) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "身份信息"
    for label, value in archive.identity:
        _append(sheet, [label, value])
    _append(sheet, ["导出时间", _t(archive.made_at)])
    for section in archive.sections:
        sheet = workbook.create_sheet(section.title)
        _append(sheet, section.columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in section.rows:
            _append(sheet, row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def archive_pdf(archive: Archive) -> bytes:
    pdf = Document(
        title=f"学员电子档案 {archive.learner.name}", footer_text=f"学员电子档案 · {archive.learner.name}"
    )
    pdf.add_page(orientation="landscape")
    pdf.heading("学员电子档案")
    pdf.ln(2)
    pdf.paragraph("    ".join(f"{label}：{value or '—'}" for label, value in archive.identity), size=10)
    pdf.paragraph(f"导出时间：{_t(archive.made_at)}", size=9)
    for section in archive.sections:
        pdf.ln(3)
        pdf.keep_together(20)
        pdf.paragraph(f"{section.title}（{len(section.rows)} 条）", size=12, bold=True)
        if not section.rows:
            pdf.paragraph("无", size=9)
            continue
        pdf.set_font(FONT, size=8)
        with pdf.table(text_align="LEFT", line_height=5) as table:
            header = table.row()
            for column in section.columns:
                header.cell(column)
            for row in section.rows:
                cells = table.row()
                for value in row:
                    cells.cell("" if value is None else str(value))
        pdf.set_font(FONT, size=10.5)
        pdf.set_x(pdf.l_margin)
        pdf.cell(0, 1, "", **NEXT_LINE)
    return pdf.render()


def handover_zip(learners: list[Any]) -> bytes:
    """REC-05: every learner's archive as Excel and PDF, with a manifest of SHA-256 checksums."""
    buffer = io.BytesIO()
    manifest = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for learner in learners:
            archive = learner_archive(learner)
            safe_name = re.sub(r"[^\w\u4e00-\u9fff·]+", "_", learner.name)[:40]
            base = f"{learner.pk:08d}-{safe_name}"
            for suffix, data in (("xlsx", archive_xlsx(archive)), ("pdf", archive_pdf(archive))):
                name = f"{base}.{suffix}"
                bundle.writestr(name, data)
                manifest.append(
                    {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "learner": learner.pk}
                )
        bundle.writestr(
            "manifest.json",
            json.dumps(
                {"made_at": timezone.now().isoformat(), "files": manifest}, ensure_ascii=False, indent=1
            ),
        )
    return buffer.getvalue()
