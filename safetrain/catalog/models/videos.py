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


def original_path(instance: Video, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"videos/originals/{instance.uuid}.{ext}"


class Video(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    original = models.FileField(_("original file"), upload_to=original_path, max_length=200)
    original_name = models.CharField(_("uploaded file name"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=VideoStatus.choices, default=VideoStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    poster = models.CharField(_("poster image"), max_length=200, blank=True)
    hls_prefix = models.CharField(max_length=200, blank=True, help_text="storage folder of the HLS output")
    renditions = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("video")
        verbose_name_plural = _("videos")

    def __str__(self) -> str:
        return self.title

    @property
    def is_ready(self) -> bool:
        return self.status == VideoStatus.READY

    @property
    def master_playlist(self) -> str:
        return f"{self.hls_prefix}/master.m3u8" if self.hls_prefix else ""

    @property
    def duration_minutes(self) -> float:
        return round((self.duration_seconds or 0) / 60, 1)
