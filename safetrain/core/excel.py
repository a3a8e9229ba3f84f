"""People's Excel files: reading question banks and rosters (row errors, cell text, the one "cannot read" message)
and writing a list as one sheet (`table_xlsx`)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class RowError:
    """A faulty row: its number as Excel shows it, the column's heading, and what to fix."""

    row: int
    column: str
    message: str


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def unreadable_workbook() -> DomainError:
    return DomainError(
        "not_xlsx",
        _(
            "The file cannot be read as an Excel workbook (.xlsx or .xls). Save it again in Excel or WPS as .xlsx "
            "and try again."
        ),
        field="file",
    )


FORMULA_STARTS = ("=", "+", "-", "@")


def table_xlsx(title: str, columns: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """One sheet: a bold heading row and the rows as given. Text stays text: a value such as "=HYPERLINK(…)"
    typed into a name never becomes a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(["" if value is None else value for value in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value[:1] in FORMULA_STARTS:
                cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
