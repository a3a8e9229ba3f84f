"""What identity verification puts on the desk (首页): the learner's ID photo card and, for reviewers, the number of
photos waiting for review. Registered from ProctoringConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.desk import panel_register, todo_register
from safetrain.accounts.guide import guide_step_register
from safetrain.accounts.models import UNIT_ADMIN_ROLES, Role
from safetrain.proctoring.services import has_reference_photo, photo_review_queue, reference_photo_hold


def photo_panel(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not user.has_role(Role.LEARNER):
        return None
    return {"has_photo": has_reference_photo(user), "photo_hold": reference_photo_hold(user)}


def photos_to_review(user: Any) -> int | None:
    """Photos waiting for this reviewer: operators everyone's, unit admins their units' people's."""
    if not (user.sees_everything() or user.has_role(*UNIT_ADMIN_ROLES)):
        return None
    return photo_review_queue(reviewer=user).count()


def register() -> None:
    guide_step_register(step="photo", done=has_reference_photo)
    panel_register(name="id_photo", template="proctoring/desk_photo.html", context=photo_panel, order=50)
    todo_register(
        name="photos",
        label=_("Photos to review"),
        url_name="proctoring:photo_review",
        count=photos_to_review,
        order=50,
    )
