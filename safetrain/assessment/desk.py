"""The learner's exams on the desk (首页, EXM-05): registered with safetrain.accounts.desk in AssessmentConfig.ready."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safetrain.assessment.exams import exam_overview
from safetrain.assessment.links import certificate_link
from safetrain.assessment.models import AttemptKind, ExamAttempt


def exams_panel(request: HttpRequest) -> dict[str, Any] | None:
    """Per enrolled programme with an exam: passed (best score, certificate), in progress, open (attempts left) or
    locked (what is still to do); None for someone with no such programme (the panel is not shown)."""
    user = request.user
    if not getattr(user, "is_authenticated", False) or not user.has_role("learner"):
        return None
    rows = []
    for row in exam_overview(user):
        exams = row["exams"]
        if row["passed"]:
            state = "passed"
        elif row["open_exam"]:
            state = "in_progress"
        elif row["problems"]:
            state = "locked"
        elif row["left"]:
            state = "open"
        else:
            state = "no_attempts"
        best = max((a.score for a in exams if a.score is not None), default=None)
        rows.append(
            {
                "programme": row["programme"],
                "state": state,
                "problems": row["problems"],
                "left": row["left"],
                "allowed": row["allowed"],
                "best": best,
                "open_exam": row["open_exam"],
                "certificate": certificate_link(row["enrolment"]) if state == "passed" else None,
            }
        )
    return {"rows": rows} if rows else None


def exam_passed(user: Any) -> bool:
    """The first-visit guide's third step: an exam (not a mock) passed."""
    return ExamAttempt.objects.filter(enrolment__learner=user, kind=AttemptKind.EXAM, passed=True).exists()
