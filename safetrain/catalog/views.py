"""Operator pages: video upload with transcoding progress, the course review cycle, low-rated courses."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from safetrain.catalog.models import Video
from safetrain.catalog.selectors import course_review_states, low_rated_courses, unmapped_job_codes
from safetrain.catalog.services import video_retry, video_upload
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError


class VideoUploadForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200, required=False)
    file = forms.FileField(label=gettext_lazy("Video file"))


@staff_required()
def videos_view(request: HttpRequest) -> HttpResponse:
    form = VideoUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                video = video_upload(
                    file=form.cleaned_data["file"], title=form.cleaned_data["title"], uploaded_by=request.user
                )
            except DomainError as exc:
                form.add_error("file", exc.message)
                status = 400
            else:
                # CAT-05: no fixed "being transcoded" message: the banner is drawn from the video's own state,
                # like its row, and both follow the transcode until it ends.
                return redirect(reverse("catalog:videos") + f"?uploaded={video.pk}")
        else:
            status = 400
    videos = Video.objects.select_related("uploaded_by")[:100]
    uploaded_id = request.GET.get("uploaded", "")
    uploaded = (
        Video.objects.filter(pk=int(uploaded_id)).first()
        if uploaded_id.isdecimal() and len(uploaded_id) < 12
        else None
    )
    return render(
        request,
        "catalog/videos.html",
        {"form": form, "videos": videos, "uploaded": uploaded},
        status=status,
    )


@staff_required()
def video_status_view(request: HttpRequest, video_id: int) -> HttpResponse:
    """The htmx-polled row of one video (status, progress, error), or with ?part=banner the upload banner."""
    video = get_object_or_404(Video, pk=video_id)
    if request.GET.get("part") == "banner":
        return render(request, "catalog/_video_banner.html", {"uploaded": video})
    return render(request, "catalog/_video_row.html", {"video": video})


@staff_required()
@require_POST
def video_retry_view(request: HttpRequest, video_id: int) -> HttpResponse:
    try:
        video_retry(video=get_object_or_404(Video, pk=video_id))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("catalog:videos")


@staff_required()
def review_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "catalog/review.html",
        {
            "states": course_review_states(),
            "low_rated": low_rated_courses(),
            "unmapped": unmapped_job_codes(),
        },
    )
