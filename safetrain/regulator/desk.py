"""What supervision puts on the desk (首页): the survey invitation for learners and the number of complaints
waiting to be handled. Registered from the app's ready()."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.desk import panel_register, todo_register
from safetrain.accounts.models import Role
from safetrain.regulator.complaints import staff_complaints
from safetrain.regulator.models import ComplaintState
from safetrain.regulator.surveys import open_survey_for

COMPLAINT_HANDLERS = (Role.REGULATOR, Role.INSTITUTION_ADMIN, Role.ENTERPRISE_ADMIN)


def survey_panel(request: HttpRequest) -> dict[str, Any] | None:
    survey = open_survey_for(request.user)
    return None if survey is None else {"survey": survey}


def complaints_to_handle(user: Any) -> int | None:
    """Complaints open or being handled among those the viewer handles (as the list of complaints to handle)."""
    if not (user.sees_everything() or user.has_role(*COMPLAINT_HANDLERS)):
        return None
    return staff_complaints(user).filter(state__in=(ComplaintState.OPEN, ComplaintState.ASSIGNED)).count()


def register() -> None:
    panel_register(name="survey", template="regulator/desk_survey.html", context=survey_panel, area="top")
    todo_register(
        name="complaints",
        label=_("Complaints to handle"),
        url_name="regulator:feedback_manage",
        count=complaints_to_handle,
        order=40,
    )
