"""CAT-05, UX-01: the upload banner and the video's row come from the same state and follow the transcode; the
upload itself shows a progress bar (a static module, no inline script)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from safetrain.catalog.models import Video, VideoStatus
from safetrain.catalog.tests.factories import clip


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _upload(client):
    return client.post(
        "/catalog/videos/",
        {"title": "高处作业", "file": SimpleUploadedFile("work.mp4", clip().read_bytes(), "video/mp4")},
    )


def _banner(html: str) -> str:
    return re.search(r'<div id="upload-banner".*?</div>', html, re.S).group(0)


def test_cat_05_after_a_quick_transcode_banner_and_row_both_say_ready(
    world, web_client, django_capture_on_commit_callbacks
):
    client = web_client(world.operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client)
    video = Video.objects.get(title="高处作业")
    assert response["Location"] == f"/catalog/videos/?uploaded={video.pk}"
    page = client.get(response["Location"]).content.decode()
    banner = _banner(page)
    assert 'data-status="ready"' in banner
    assert "正在转码" not in banner
    assert "hx-trigger" not in banner
    assert "已就绪" in re.search(rf'<tr id="video-{video.pk}".*?</tr>', page, re.S).group(0)


def test_cat_05_while_transcoding_banner_and_row_poll_the_same_state(world, web_client):
    client = web_client(world.operator)
    response = _upload(client)  # the transcode is queued (not run: its commit never comes here)
    video = Video.objects.get(title="高处作业")
    assert video.status == VideoStatus.QUEUED
    page = client.get(response["Location"]).content.decode()
    banner = _banner(page)
    assert f'hx-get="/catalog/videos/{video.pk}/status/?part=banner" hx-trigger="every 2s"' in banner
    assert f'hx-get="/catalog/videos/{video.pk}/status/" hx-trigger="every 2s"' in page
    Video.objects.filter(pk=video.pk).update(status=VideoStatus.PROCESSING, progress=40)
    polled = client.get(f"/catalog/videos/{video.pk}/status/?part=banner").content.decode()
    assert "正在转码" in polled or "40%" in polled
    assert 'value="40"' in polled
    row = client.get(f"/catalog/videos/{video.pk}/status/").content.decode()
    assert "40%" in row
    Video.objects.filter(pk=video.pk).update(status=VideoStatus.READY, progress=100)
    done = client.get(f"/catalog/videos/{video.pk}/status/?part=banner").content.decode()
    assert 'data-status="ready"' in done
    assert "hx-trigger" not in done


def test_cat_05_the_upload_form_has_a_progress_bar_driven_by_a_module(world, web_client):
    page = web_client(world.operator).get("/catalog/videos/").content.decode()
    assert "data-upload-progress" in page
    assert re.search(r'<script type="module" src="[^"]*video-upload[^"]*\.js"></script>', page)
    assert 'id="upload-banner"' not in page  # nothing uploaded: no banner
