"""What learning puts on the desk (首页): the number of learners whose suspicious study waits for review (ANTI-05).
Registered from LearningConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from safetrain.accounts.desk import todo_register
from safetrain.accounts.guide import guide_step_register
from safetrain.learning.models import SuspiciousEvent
from safetrain.learning.selectors import enrolment_overview


def suspicious_study_to_review(user: Any) -> int | None:
    """Enrolments with suspicious events nobody has reviewed yet, as the review queue lists them (operators only)."""
    if not user.sees_everything():
        return None
    return SuspiciousEvent.objects.filter(review__isnull=True).values("enrolment_id").distinct().count()


def study_time_met(user: Any) -> bool:
    """The first-visit guide's second step: some programme's study time (and public-course time) is complete."""
    return any(
        row["credited_minutes"] >= row["required_minutes"]
        and row["public_minutes"] >= row["required_public_minutes"]
        for row in enrolment_overview(user)
    )


def register() -> None:
    guide_step_register(step="study", done=study_time_met)
    todo_register(
        name="suspicious_study",
        label=_("Suspicious study to review"),
        url_name="learning:review_queue",
        count=suspicious_study_to_review,
        order=30,
    )
