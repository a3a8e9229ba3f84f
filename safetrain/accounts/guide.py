"""The first-visit guide (引导语, after the Tianjin platform's): four steps on a new learner's desk, 1 upload a photo →
2 study → 3 take the exam → 4 get the certificate, each linking its page, the current one highlighted, until the
learner closes it.

Accounts knows none of the four; the apps that do tell it through ``guide_step_register`` (from their
``AppConfig.ready()``), so that the current step is the first one not yet done. A step nobody reports on counts as
not done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.models import Role

STEPS: tuple[tuple[str, Any, str], ...] = (
    ("photo", _("Upload your photo"), "proctoring:photo"),
    ("study", _("Study the courses"), "learning:my_programmes"),
    ("exam", _("Take the exam"), "assessment:my_exams"),
    ("certificate", _("Get your certificate"), "certification:mine"),
)
_done: dict[str, Callable[[Any], bool]] = {}


def guide_step_register(*, step: str, done: Callable[[Any], bool]) -> None:
    """An app above accounts reports whether the user has done one of the steps (e.g. proctoring: a reference
    photo is on file)."""
    if step not in {key for key, _label, _url in STEPS}:
        raise ValueError(f"unknown guide step: {step}")
    _done[step] = done


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def guide_context(request: HttpRequest) -> dict[str, Any] | None:
    """The guide for this request's learner, or None (not a learner, closed, or every step done)."""
    user = request.user
    if not user.is_authenticated or user.guide_dismissed_at is not None or not user.has_role(Role.LEARNER):
        return None
    steps, current = [], None
    for number, (key, label, url_name) in enumerate(STEPS, start=1):
        done = bool(_done[key](user)) if key in _done else False
        if not done and current is None:
            current = key
        steps.append({"number": number, "key": key, "label": label, "url": _url(url_name), "done": done})
    if current is None:
        return None
    for step in steps:
        step["current"] = step["key"] == current
    return {"steps": steps, "current": current}
