"""Demo: the demo training institution registered in the Guangzhou module (its commitment letter printed as a PDF
from 附件2's text), so that the public list of Guangzhou has an entry. Idempotent."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from safetrain.accounts.demo import DemoAccounts
from safetrain.core.pdf import FONT, NEXT_LINE, Document
from safetrain.orgs.models import Region
from safetrain.regulator import registrations
from safetrain.regulator.models import InstitutionRegistration

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
