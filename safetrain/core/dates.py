"""Calendar arithmetic shared by certificates (validity) and records (retention)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later (or earlier), kept within shorter months: 31 Jan + 1 = 28 Feb."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
