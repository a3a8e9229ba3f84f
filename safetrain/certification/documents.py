"""The printable documents (CERT-01, CERT-03, CERT-06): the certificate and the training-hour proof as PDF, with the
holder's reference photo and the signed QR code."""

from __future__ import annotations

import io
import logging

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from safetrain.certification.models import Certificate, CertificateKind
from safetrain.certification.services import qr_text
from safetrain.core.pdf import FONT, NEXT_LINE, Document
from safetrain.proctoring.models import FaceTemplate
from safetrain.proctoring.services import reference_photo

logger = logging.getLogger(__name__)

PHOTO_W, PHOTO_H = 30.0, 42.0  # mm, the 295 x 412 ID photo's shape
QR_SIZE = 42.0  # mm: a phone reads it from a printed page at arm's length


def qr_png(text: str) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def _photo(pdf: Document, certificate: Certificate, x: float, y: float) -> None:
    template = FaceTemplate.objects.approved().filter(user_id=certificate.learner_id).first()
    data = None
    if template is not None:
        try:
            data = reference_photo(template)
            pdf.image(io.BytesIO(data), x=x, y=y, w=PHOTO_W, h=PHOTO_H)
        except Exception:  # a missing, undecryptable or broken photo: the document still prints, with the box
            logger.warning(
                "reference photo of user %s unusable on certificate %s",
                certificate.learner_id,
                certificate.number,
            )
            data = None
    if not data:
        pdf.set_xy(x, y)
        pdf.set_font(FONT, size=9)
        pdf.cell(PHOTO_W, PHOTO_H, "照片", border=1, align="C")
    pdf.rect(x, y, PHOTO_W, PHOTO_H)


def _rows(
    pdf: Document, rows: list[tuple[str, str]], x: float, label_w: float = 30, value_w: float = 95
) -> None:
    for label, value in rows:
        pdf.set_x(x)
        pdf.set_font(FONT, size=11)
        pdf.set_text_color(90)
        pdf.cell(label_w, 9, label)
        pdf.set_text_color(0)
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(value_w, 9, value or "—", **NEXT_LINE)


def _frame(pdf: Document) -> None:
    pdf.set_draw_color(150, 30, 30)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    pdf.set_line_width(0.3)
    pdf.rect(11, 11, pdf.w - 22, pdf.h - 22)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)


def _qr(pdf: Document, certificate: Certificate, x: float, y: float) -> None:
    pdf.image(io.BytesIO(qr_png(qr_text(certificate))), x=x, y=y, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(x - 8, y + QR_SIZE + 1)
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(QR_SIZE + 16, 4, "扫码验证真伪\n二维码含平台数字签名", align="C")


def _page(certificate: Certificate, title: str, number_label: str) -> Document:
    """A framed page with the title, the number and the photo; the caller writes from the photo's top down."""
    pdf = Document(title=f"{title} {certificate.number}", page_footer=False)  # one framed page
    pdf.set_auto_page_break(False)
    pdf.add_page()
    _frame(pdf)
    pdf.set_y(26)
    pdf.heading(title, size=22)
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 8, f"{number_label}：{certificate.number}", align="C", **NEXT_LINE)
    top = 56
    _photo(pdf, certificate, pdf.w - 22 - PHOTO_W, top)
    pdf.set_y(top)
    return pdf


def certificate_pdf(certificate: Certificate) -> bytes:
    if certificate.kind == CertificateKind.HOUR_PROOF:
        return hour_proof_pdf(certificate)
    pdf = _page(certificate, "安全生产培训合格证明", "证书编号")
    _rows(
        pdf,
        [
            ("姓名", certificate.holder_name),
            ("身份证号", certificate.holder_id_masked),
            ("培训项目", certificate.programme_name),
            ("培训类别", certificate.category),
            ("培训学时", certificate.hours_text),
            ("考试成绩", f"{certificate.exam_score} 分" if certificate.exam_score is not None else ""),
            ("线下总测", f"{certificate.offline_score} 分" if certificate.offline_score is not None else ""),
            ("发证日期", f"{certificate.issued_on:%Y年%m月%d日}"),
            ("有效期至", f"{certificate.valid_until:%Y年%m月%d日}" if certificate.valid_until else "长期"),
        ],
        x=24,
    )
    pdf.ln(6)
    pdf.set_x(24)
    pdf.set_font(FONT, size=11)
    pdf.multi_cell(
        pdf.w - 48,
        7,
        "该学员已按规定完成上述培训项目的全部课程学习，经考核合格，特发此证明。",
        align="L",
        **NEXT_LINE,
    )
    bottom = pdf.h - 22 - QR_SIZE - 14
    _qr(pdf, certificate, 26, bottom)
    pdf.set_xy(pdf.w - 110, bottom + 12)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(86, 8, f"发证单位：{certificate.issuer}\n{certificate.issued_on:%Y年%m月%d日}", align="R")
    return pdf.render()


def hour_proof_pdf(certificate: Certificate) -> bytes:
    """学时证明 (CERT-03): issued jointly by the using unit and the platform."""
    pdf = _page(certificate, "安全培训学时证明", "证明编号")
    _rows(
        pdf,
        [
            ("姓名", certificate.holder_name),
            ("身份证号", certificate.holder_id_masked),
            ("培训项目", certificate.programme_name),
            ("线上学时", f"{certificate.online_minutes} 分钟"),
            ("线下学时", f"{certificate.offline_minutes} 分钟"),
            ("合计学时", certificate.hours_text),
            ("线上考试", f"{certificate.exam_score} 分" if certificate.exam_score is not None else ""),
            ("线下总测", f"{certificate.offline_score} 分" if certificate.offline_score is not None else ""),
            ("出具日期", f"{certificate.issued_on:%Y年%m月%d日}"),
        ],
        x=24,
    )
    pdf.ln(6)
    pdf.set_x(24)
    pdf.set_font(FONT, size=11)
    pdf.multi_cell(
        pdf.w - 48,
        7,
        "该学员已按要求完成线上线下安全培训，测试成绩均在80分以上。使用单位和平台共同出具本证明，"
        "并对培训学时、培训内容和测试结果的真实性负责。",
        align="L",
        **NEXT_LINE,
    )
    bottom = pdf.h - 22 - QR_SIZE - 14
    _qr(pdf, certificate, 26, bottom)
    pdf.set_xy(pdf.w - 120, bottom + 6)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(
        96,
        8,
        f"使用单位：{certificate.joint_issuer or '—'}\n平台：{certificate.issuer}\n{certificate.issued_on:%Y年%m月%d日}",
        align="R",
    )
    return pdf.render()
