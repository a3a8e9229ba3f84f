"""Face pages: snapshots and check results for viewers in scope (FACE-04), the reference photo (ACC-07) and its
review (实名核验), the face check at sign-in (FACE-01) and group-training matching (FACE-06)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from safetrain.accounts.services import face_check_pending
from safetrain.catalog.models import OfflineSession
from safetrain.core.crypto import decrypt_bytes
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.orgs.models import Organisation
from safetrain.proctoring.group import candidates, usable_templates
from safetrain.proctoring.models import FaceCheck, FaceTemplate, PhotoStatus
from safetrain.proctoring.services import (
    has_reference_photo,
    photo_hold_message,
    photo_review_queue,
    photo_reviewable_people,
    reference_photo,
    reference_photo_approve,
    reference_photo_hold,
    reference_photo_reject,
    reference_photo_set,
)
from safetrain.proctoring.tasks import match_group_photos

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


# Reference photo (ACC-07) ----------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def photo_view(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    """A learner uploads the ID photo until one is approved; an operator replaces anyone's (ACC-07)."""
    if user_id is not None and not request.user.sees_everything():
        raise Http404
    person = (
        get_object_or_404(get_user_model().objects.visible_to(request.user), pk=user_id)
        if user_id is not None
        else request.user
    )
    template = FaceTemplate.objects.filter(user=person).first()
    error, status = "", 200
    if request.method == "POST":
        upload = request.FILES.get("photo")
        if upload is None:
            error, status = _("Choose the photo file to upload."), 400
        else:
            try:
                saved = reference_photo_set(user=person, data=upload.read(), actor=request.user)
            except DomainError as exc:
                error, status = exc.message, 400
            else:
                if saved.status == PhotoStatus.APPROVED:
                    messages.success(
                        request, _("The photo was saved and approved: it is your reference for face checks.")
                    )
                else:
                    messages.success(
                        request,
                        _("The photo was saved. It counts once it is approved; you will get a notice."),
                    )
                return redirect(_safe_next(request, request.path))
    return render(
        request,
        "proctoring/photo.html",
        {
            "person": person,
            "template": template,
            "hold": photo_hold_message(template),
            "error": error,
            "can_upload": template is None
            or template.status != PhotoStatus.APPROVED
            or request.user.sees_everything(),
            "next": _safe_next(request, ""),
        },
        status=status,
    )


# Photo review (identity binding, 实名核验) -------------------------------------------------------------------------


@staff_required("enterprise_admin", "institution_admin")
def photo_review_view(request: HttpRequest) -> HttpResponse:
    """The review queue: each waiting photo beside the person's name, masked ID number, unit and the ID-card photo
    the identity service returned (if any); approve, or reject with a reason the learner reads."""
    error, status = "", 200
    if request.method == "POST":
        photo_id = request.POST.get("photo", "")
        if not photo_id.isdigit():
            raise Http404
        reviewable = photo_reviewable_people(request.user).values("pk")
        template = get_object_or_404(FaceTemplate.objects.filter(user__in=reviewable), pk=int(photo_id))
        try:
            if request.POST.get("decision") == "approve":
                reference_photo_approve(
                    template=template, reviewer=request.user, photo_sha256=request.POST.get("sha256", "")
                )
                messages.success(
                    request, _("Approved: %(name)s can study and take exams.") % {"name": template.user.name}
                )
            else:
                reference_photo_reject(
                    template=template,
                    reviewer=request.user,
                    reason=request.POST.get("reason", ""),
                    photo_sha256=request.POST.get("sha256", ""),
                )
                messages.success(
                    request,
                    _("Rejected: %(name)s is told why and can upload another photo.")
                    % {"name": template.user.name},
                )
        except DomainError as exc:
            error, status = exc.message, 400
        else:
            return redirect("proctoring:photo_review")
    page = Paginator(photo_review_queue(reviewer=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "proctoring/photo_review.html", {"page": page, "error": error}, status=status)


@staff_required("enterprise_admin", "institution_admin")
def id_photo_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """The ID-card photo the identity service returned, for the reviewers of that person only; never cached."""
    person = get_object_or_404(photo_reviewable_people(request.user), pk=user_id)
    template = get_object_or_404(FaceTemplate.objects.exclude(id_photo_name=""), user=person)
    if not default_storage.exists(template.id_photo_name):
        raise Http404
    with default_storage.open(template.id_photo_name, "rb") as fh:
        data = decrypt_bytes(fh.read())
    response = HttpResponse(data, content_type="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


@login_required
def photo_image_view(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    """The reference photo itself, for its owner and viewers in scope; never cached."""
    if user_id is not None and user_id != request.user.pk:
        if not _can_view(request.user):
            raise Http404
        person = get_object_or_404(get_user_model().objects.visible_to(request.user), pk=user_id)
    else:
        person = request.user
    template = get_object_or_404(FaceTemplate, user=person)
    if not default_storage.exists(template.photo_name):
        raise Http404
    data = reference_photo(template)
    response = HttpResponse(data, content_type="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


@login_required
def verify_view(request: HttpRequest) -> HttpResponse:
    """The face check at sign-in (FACE-01)."""
    target = _safe_next(request, "/")
    if not face_check_pending(request.user, getattr(request, "auth_session", None)):
        return redirect(target)
    return render(
        request,
        "proctoring/verify.html",
        {
            "next": target,
            "has_photo": has_reference_photo(request.user),
            "hold": reference_photo_hold(request.user),
        },
    )


# Group training (FACE-06) ----------------------------------------------------------------------------------------


@staff_required("enterprise_admin", "institution_admin")
def group_view(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_object_or_404(
        OfflineSession.objects.filter(
            organisation__in=Organisation.objects.supervised_by(request.user)
        ).select_related("programme", "organisation"),
        pk=session_id,
    )
    if request.method == "POST":
        # A second or so per photo, on the shared model: in a worker, never in the web request.
        match_group_photos.delay(session.pk)
        messages.success(
            request, _("The faces are being matched; this page shows the result when it is done.")
        )
        return redirect("proctoring:group", session_id=session.pk)
    matches = list(session.face_matches.select_related("learner", "photo"))
    seen = {m.learner_id for m in matches if m.learner_id}
    attendance = list(session.attendance.select_related("learner"))
    people = candidates(session)
    with_photo = set(usable_templates(people))
    return render(
        request,
        "proctoring/group.html",
        {
            "session": session,
            "matches": matches,
            "matched_at": matches[0].matched_at if matches else None,
            "unknown_faces": sum(1 for m in matches if m.learner_id is None),
            "not_seen": [a.learner for a in attendance if a.present and a.learner_id not in seen],
            "without_photo": get_user_model().objects.filter(
                pk__in=[p for p in people if p not in with_photo]
            ),
            "photos": session.photos.all(),
            "pending": bool(session.photos.filter(kind="faces").exists() and not matches),
        },
    )
