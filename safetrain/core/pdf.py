"""PDF documents with Chinese text (exam papers, certificates, records), made with fpdf2.

fpdf2 embeds a subset of an OpenType CJK font (Noto Sans CJK, CFF outlines, from Debian's fonts-noto-cjk), so a
document prints the same on any reader and printer; ReportLab would need TrueType outlines or fall back to a CID
font the reader must have.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT = "cjk"

NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _font_file(path: str) -> str:
    if not Path(path).is_file():
        raise ImproperlyConfigured(
            f"PDF font {path} is missing: install Debian's fonts-noto-cjk (make system-deps) or set PDF_FONT_PATH."
        )
    return path


class Document(FPDF):
    """An A4 page with the platform's CJK font (regular and bold), a running title and "page n of m" at the foot."""

    def __init__(
        self, *, title: str, footer_text: str = "", orientation: str = "portrait", page_footer: bool = True
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        index = settings.PDF_FONT_INDEX
        self.add_font(FONT, "", _font_file(settings.PDF_FONT_PATH), collection_font_number=index)
        bold = settings.PDF_FONT_BOLD_PATH
        self.add_font(
            FONT,
            "B",
            _font_file(bold if Path(bold).is_file() else settings.PDF_FONT_PATH),
            collection_font_number=index,
        )
        self.set_title(title)
        self.set_author(settings.PLATFORM_NAME)
        self.set_creator(settings.PLATFORM_NAME)
        self.footer_text = footer_text
        self.page_footer = page_footer
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        self.alias_nb_pages("{nb}")
        self.set_font(FONT, size=10.5)

    def footer(self) -> None:
        if not self.page_footer:
            return
        self.set_y(-13)
        self.set_font(FONT, size=8)
        self.set_text_color(110)
        text = f"第 {self.page_no()} 页 / 共 {{nb}} 页"
        if self.footer_text:
            text = f"{self.footer_text}    {text}"
        self.cell(0, 6, text, align="C")
        self.set_text_color(0)
        self.set_font(FONT, size=10.5)

    def heading(self, text: str, size: float = 16) -> None:
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.55, text, align="C", **NEXT_LINE)
        self.set_font(FONT, size=10.5)

    def paragraph(
        self, text: str, *, size: float = 10.5, bold: bool = False, height: float | None = None
    ) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, height or size * 0.6, text, align="L", **NEXT_LINE)
        self.set_font(FONT, size=10.5)

    def keep_together(self, height: float) -> None:
        """Start a new page unless `height` mm still fit on this one."""
        if self.get_y() + height > self.h - self.b_margin:
            self.add_page()

    def render(self) -> bytes:
        return bytes(self.output())
