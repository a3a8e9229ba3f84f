"""Demo: the demo training institution registered in the Guangzhou module (its commitment letter printed as a PDF
from 附件2's text), so that the public list of Guangzhou has an entry; this year's satisfaction survey, open, with the
answers of two learners who finished (REG-04); two complaints, one waiting for an operator and one answered (REG-05).
Idempotent."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from safetrain.accounts.demo import DemoAccounts
from safetrain.core.pdf import FONT, NEXT_LINE, Document
from safetrain.orgs.models import Region
from safetrain.regulator import complaints, registrations, surveys
from safetrain.regulator.models import (
    Complaint,
    ComplaintKind,
    InstitutionRegistration,
    Survey,
    SurveyQuestion,
    SurveyTarget,
)

PROMISES = [
    "一、选择符合标准的网络平台，依法依规开展安全生产资格考试网络培训。",
    "二、保证使用的课程内容、形式、意识形态、视频格式、视频质量、版权等符合要求。",
    "三、法律法规实施后2个月内、技术标准发布后3个月内更新相关课程。",
    "四、认真实施网络培训教学计划，网络培训内容、时长符合培训大纲要求。",
    "五、建立健全培训档案并妥善保管备查，如实出具参加网络培训的证明。",
    "六、不采取虚假手段招揽生源，不乱收费，不擅自修改培训数据，不提供虚假培训证明。",
]


def commitment_pdf(institution: str) -> bytes:
    pdf = Document(title="广东省安全生产资格考试网络培训机构承诺书", page_footer=False)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 12, "广东省安全生产资格考试网络培训机构承诺书", align="C", **NEXT_LINE)
    pdf.set_font(FONT, size=11)
    pdf.multi_cell(
        0, 7, "我方在此声明，我方在参加本次网络培训机构备案过程中，承诺做到以下事项：", **NEXT_LINE
    )
    for line in PROMISES:
        pdf.multi_cell(0, 7, line, **NEXT_LINE)
    pdf.ln(10)
    pdf.cell(0, 8, f"培训机构（盖章）：{institution}（演示）", align="R", **NEXT_LINE)
    return bytes(pdf.output())


def seed_registrations(accounts: DemoAccounts) -> None:
    institution = accounts.organisations["inst"]
    if InstitutionRegistration.objects.filter(institution=institution).exists():
        return
    registration = registrations.registration_apply(
        institution=institution,
        city=Region.objects.get(code="440100"),
        commitment=SimpleUploadedFile("承诺书.pdf", commitment_pdf(institution.name), "application/pdf"),
        details={
            "legal_representative": "陈明",
            "address": "广州市越秀区三育路13号",
            "contact_name": "姚老师",
            "contact_phone": "020-83000000",
            "scope": "非高危行业生产经营单位主要负责人和安全生产管理人员初次培训、再培训（网络培训）",
        },
        actor=accounts.user("institution_admin"),
    )
    registrations.registration_decide(
        registration=registration, approve=True, actor=accounts.user("regulator_gz")
    )


# (text, about, with a comment box)
SURVEY_QUESTIONS = [
    ("您对本平台的总体使用体验是否满意？", SurveyTarget.PLATFORM, True),
    ("您对培训机构的组织和服务是否满意？", SurveyTarget.INSTITUTION, False),
    ("您对这门课程的内容和讲解是否满意？", SurveyTarget.COURSE, False),
]
# Learners who finished their training answer: (learner key, mark for the platform, mark for each course).
SURVEY_ANSWERS = [("learner13", "5", "4"), ("learner14", "4", "3")]


@transaction.atomic
def seed_survey(accounts: DemoAccounts) -> Survey:
    """This year's survey, open for a month before and three after today: every demo learner enrolled this year is
    invited (the platform question concerns them all); two have answered, so the results have numbers."""
    today = timezone.localdate()
    survey = Survey.objects.filter(year=today.year).first()
    if survey is not None:
        return survey
    survey = Survey.objects.create(
        year=today.year,
        title=f"{today.year}年度学员满意度调查",
        opens_on=today - dt.timedelta(days=30),
        closes_on=today + dt.timedelta(days=90),
    )
    for order, (text, target, with_comment) in enumerate(SURVEY_QUESTIONS, start=1):
        SurveyQuestion.objects.create(
            survey=survey, order=order, text=text, target=target, with_comment=with_comment
        )
    for key, platform, course in SURVEY_ANSWERS:
        learner = accounts.user(key)
        marks = {
            surveys.item_key(question, subject): platform if subject is None else course
            for question, subject in surveys.items(survey, learner)
        }
        surveys.survey_submit(survey=survey, learner=learner, marks=marks, comments={})
    return survey


def seed_complaints(accounts: DemoAccounts) -> None:
    """A learner's complaint about the Shenzhen project, waiting for an operator to answer or hand it on, and a
    Guangzhou learner's question to the training institution, answered."""
    if Complaint.objects.exists():
        return
    complaints.complaint_submit(
        kind=ComplaintKind.COMPLAINT,
        title="手机上播放课程视频经常卡顿",
        text="在工地宿舍用手机学习时，第二课的视频经常卡住，进度条不动，希望尽快解决。",
        about=accounts.organisations["proj"],
        submitter=accounts.user("learner06"),
    )
    question = complaints.complaint_submit(
        kind=ComplaintKind.QUESTION,
        title="考试通过后多久能下载证书？",
        text="请问线上考试合格以后，培训合格证明多久可以在平台上查看和下载？",
        about=accounts.organisations["inst"],
        submitter=accounts.user("learner08"),
    )
    complaints.complaint_answer(
        complaint=question,
        response="考试合格、学时和课程全部完成后，平台立即签发，可在“我的证书”中查看和下载 PDF。",
        actor=accounts.user("operator"),
    )
