"""Reading people's Excel files (question banks, rosters): row errors, cell text, the one "cannot read" message."""

from __future__ import annotations

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
        _("The file cannot be read as an Excel workbook (.xlsx). Save it as .xlsx and try again."),
        field="file",
    )
