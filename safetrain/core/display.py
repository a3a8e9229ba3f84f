"""Small display helpers shared by pages, Excel sheets and PDFs."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _


def class_hours_text(hours: Decimal | float | int | None, minutes: int | float | None) -> str:
    """Class hours as people read them on a certificate: "2.0 学时", or the minutes when the hours would round to
    zero ("20 分钟" for a short programme, never "0.0 学时")."""
    hours = Decimal(str(hours or 0)).quantize(Decimal("0.1"))
    if hours > 0:
        return _("%(hours)s class hours") % {"hours": hours}
    minutes = int(round(minutes or 0))
    if minutes > 0:
        return _("%(minutes)s minutes") % {"minutes": minutes}
    return _("less than 1 minute")


def clock(seconds: float | None) -> str:
    """Seconds of video as the player shows them: 74 -> "1:14", 3725 -> "1:02:05" (never rounded up)."""
    whole = max(0, int(seconds or 0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
