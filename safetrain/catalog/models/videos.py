"""Uploaded videos and their HLS renditions (CAT-05)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class VideoStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Transcoding")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


# What an operator is told when a file cannot be used (CAT-05): what is wrong and what to upload instead; the raw
# ffprobe/ffmpeg text (with server paths) stays in the log and in `Video.error` for the platform's staff.
VIDEO_PROBLEMS = {
    "unreadable": _(
        "It is not a video file that can be read: it may be a document, a picture or a damaged file. Upload a "
        "video file such as MP4 (H.264), MOV or WebM."
    ),
    "format": _(
        "This kind of file is not accepted as a video. Upload an MP4 (H.264), MOV, WebM, AVI or MKV file."
    ),
    "no_video": _(
        "The file has no picture (it may be a sound recording only). Upload a video file with a picture, such as "
        "MP4."
    ),
    "no_duration": _(
        "The video has no length or picture size: it may be damaged or unfinished. Export it again as MP4 and "
        "upload that."
    ),
    "timeout": _(
        "Reading the file took too long: it may be damaged or very large. Export it again as MP4 (H.264) and "
        "upload that."
    ),
    "failed": _(
        "The video could not be converted for playback. Export it again as MP4 (H.264) and upload that; if it "
        "fails again, contact the platform operator."
    ),
}
# The transcoder's own wording (catalog/transcode.py) and the problem it means.
_PROBLEM_PREFIXES = (
    ("not a readable media file", "unreadable"),
    ("unsupported container format", "format"),
    ("the file has no video stream", "no_video"),
    ("the video has no duration", "no_duration"),
    ("the video has no picture size", "no_duration"),
    ("ffprobe timed out", "timeout"),
    ("ffmpeg stopped after", "timeout"),
)


def video_problem(technical: str) -> str:
    """The operator's message for the transcoder's technical text."""
    text = str(technical or "")
    code = next((code for prefix, code in _PROBLEM_PREFIXES if text.startswith(prefix)), "failed")
    return str(VIDEO_PROBLEMS[code])


def original_path(instance: Video, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"videos/originals/{instance.uuid}.{ext}"


class Video(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("unique id"))
    title = models.CharField(_("title"), max_length=200)
    original = models.FileField(_("original file"), upload_to=original_path, max_length=200)
    original_name = models.CharField(_("uploaded file name"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=VideoStatus.choices, default=VideoStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    poster = models.CharField(_("poster image"), max_length=200, blank=True)
    hls_prefix = models.CharField(
        max_length=200,
        blank=True,
        help_text="storage folder of the HLS output",
        verbose_name=_("playback folder"),
    )
    renditions = models.JSONField(default=list, blank=True, verbose_name=_("renditions"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("video")
        verbose_name_plural = _("videos")

    def __str__(self) -> str:
        return self.title

    @property
    def error_message(self) -> str:
        return video_problem(self.error) if self.error else ""

    @property
    def is_ready(self) -> bool:
        return self.status == VideoStatus.READY

    @property
    def master_playlist(self) -> str:
        return f"{self.hls_prefix}/master.m3u8" if self.hls_prefix else ""

    @property
    def duration_minutes(self) -> float:
        return round((self.duration_seconds or 0) / 60, 1)
