"""Snapshots and check results for operators and the learner's unit administrators (FACE-04), scoped."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from safetrain.core.crypto import decrypt_bytes
from safetrain.core.decorators import staff_required
from safetrain.proctoring.models import FaceCheck

VIEWER_ROLES = ("enterprise_admin", "institution_admin", "regulator")


def _can_view(user) -> bool:
    return user.sees_everything() or user.has_role(*VIEWER_ROLES)


def _visible_checks(user):
    people = get_user_model().objects.visible_to(user).values("pk")
    return FaceCheck.objects.filter(user__in=people).select_related("user")


@staff_required(*VIEWER_ROLES)
def checks_view(request: HttpRequest) -> HttpResponse:
    page = Paginator(_visible_checks(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "proctoring/checks.html", {"page": page})


@login_required
def snapshot_view(request: HttpRequest, check_id: int) -> HttpResponse:
    """The captured frame, decrypted for a viewer in scope (never cached by the browser or a proxy)."""
    if not _can_view(request.user):
        raise Http404
    check = get_object_or_404(_visible_checks(request.user), pk=check_id)
    if not check.snapshot_name or not default_storage.exists(check.snapshot_name):
        raise Http404
    with default_storage.open(check.snapshot_name, "rb") as fh:
        data = decrypt_bytes(fh.read())
    response = HttpResponse(data, content_type="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    response["Cache-Control"] = "no-store"
    return response
