"""Suspicious-event evidence (ANTI-04) as the operator reads it: one Chinese line per fact, never a raw dict."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from safetrain.catalog.models import ExamFaceFailureAction
from safetrain.core.display import clock
from safetrain.proctoring.models import CheckReason, code_label

EXAM_EVENTS = {
    "blur": _lazy("The exam page lost focus"),
    "hidden": _lazy("The learner switched to another tab"),
}


def _yes_no(value: Any) -> str:
    return _("yes") if value else _("no")


def _clock(seconds: Any) -> str:
    try:
        return clock(float(seconds))
    except (TypeError, ValueError, OverflowError):
        return str(seconds)  # evidence is what the client sent: show it as it came


def _when(value: Any) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else str(value)


# key: (label, how to show the value)
FIELDS: dict[str, tuple[Any, Any]] = {
    "what": (_lazy("What happened on the exam page"), lambda v: str(EXAM_EVENTS.get(v, _lazy("Other")))),
    "position": (_lazy("Position in the video"), _clock),
    "furthest": (_lazy("Furthest point watched so far"), _clock),
    "duration": (_lazy("Length of the lesson"), _clock),
    "playing": (_lazy("Playing"), _yes_no),
    "visible": (_lazy("Page visible"), _yes_no),
    "focused": (_lazy("Window in front"), _yes_no),
    "rate": (_lazy("Playback speed"), lambda v: f"{v}×"),
    "elapsed": (_lazy("Seconds since the previous heartbeat"), lambda v: f"{v}"),
    "seq": (_lazy("Heartbeat number"), str),
    "last_seq": (_lazy("Last accepted heartbeat number"), str),
    "attempt": (_lazy("Exam attempt (record no.)"), str),
    "number": (_lazy("Attempt"), lambda v: _("try %(n)s") % {"n": v} if v else _("mock exam")),
    "reason": (_lazy("Check result"), lambda v: code_label(CheckReason, v) or _("Not passed")),
    "failures": (_lazy("Checks not passed so far"), str),
    "due_at": (_lazy("Check was due at"), _when),
    "action": (_lazy("Rule applied"), lambda v: code_label(ExamFaceFailureAction, v)),
}


def evidence_lines(evidence: Any) -> list[str]:
    """Lines such as "位置：1:23", in a fixed order; a key the page does not know is shown as "其他信息"."""
    if not isinstance(evidence, dict):
        return [_("Other details: %(value)s") % {"value": evidence}] if evidence else []
    lines = []
    for key, (label, show) in FIELDS.items():
        if key in evidence and evidence[key] not in (None, ""):
            lines.append(f"{label}：{show(evidence[key])}")
    lines += [_("Other details: %(value)s") % {"value": v} for k, v in evidence.items() if k not in FIELDS]
    return lines
