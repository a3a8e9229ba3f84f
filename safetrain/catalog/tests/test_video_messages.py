"""CAT-05, UX-02: a file that is not a video is refused with a Chinese message saying what is wrong and what to
upload instead, never ffprobe's output or a server path; a failed transcoding reads the same way."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from safetrain.catalog.models import Video, VideoStatus
from safetrain.catalog.models.videos import video_problem
from safetrain.catalog.services import video_upload
from safetrain.core.errors import DomainError


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def test_ux_02_cat_05_a_document_uploaded_as_a_video_gets_a_plain_chinese_message(db):
    fake = SimpleUploadedFile(
        "安全须知.mp4", "这是一份文档，不是视频。".encode() * 20, content_type="video/mp4"
    )
    with pytest.raises(DomainError) as err:
        video_upload(file=fake, title="须知")
    message = err.value.message
    assert message.startswith("“安全须知.mp4”无法使用。")
    assert "MP4" in message
    assert "/tmp" not in message
    assert "ffprobe" not in message
    assert "Invalid data" not in message
    assert not re.search(r"[A-Za-z]{4,}", message.replace("WebM", ""))


@pytest.mark.parametrize(
    ("technical", "expected"),
    [
        ("unsupported container format (png_pipe)", "不支持此类文件作为视频"),
        ("the file has no video stream", "没有画面"),
        ("ffmpeg stopped after 600 s (time limit)", "读取文件超时"),
        ("ffmpeg failed: /tmp/x/segment_003.ts: No space left on device", "无法转换为可播放格式"),
    ],
)
def test_ux_02_cat_05_transcoder_problems_read_as_chinese(technical, expected):
    assert expected in video_problem(technical)
    assert "/tmp" not in video_problem(technical)


def test_ux_02_cat_05_a_failed_video_row_shows_the_chinese_message(db, web_client, world):
    video = Video.objects.create(
        title="坏视频",
        original_name="bad.mp4",
        status=VideoStatus.FAILED,
        error="not a readable media file (/tmp/safetrain-upload-x/bad.mp4: Invalid data found)",
    )
    response = web_client(world.operator).get("/catalog/videos/")
    assert response.status_code == 200
    html = response.content.decode()
    assert video.title in html
    assert "这不是可以读取的视频文件" in html
    assert "/tmp/safetrain-upload" not in html
