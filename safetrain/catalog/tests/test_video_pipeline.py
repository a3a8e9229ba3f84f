"""CAT-05: uploads are probed, transcoded by ffmpeg into 流畅/标清/高清 HLS with a master playlist and a poster;
bad uploads are refused with a reason and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from safetrain.catalog import transcode
from safetrain.catalog.models import Video, VideoStatus
from safetrain.catalog.services import video_retry, video_upload
from safetrain.catalog.tests.factories import clip
from safetrain.core.errors import DomainError
from safetrain.records.models import AuditEntry


def upload_of(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="video/mp4")


def stored_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_cat_05_an_upload_is_transcoded_into_three_hls_renditions(db, django_capture_on_commit_callbacks):
    source = clip(seconds=8, size="1280x720")
    with django_capture_on_commit_callbacks(execute=True):
        video = video_upload(file=upload_of(source, "安全帽佩戴.mp4"), title="安全帽佩戴")
    video.refresh_from_db()
    assert video.status == VideoStatus.READY, video.error
    assert video.progress == 100
    assert video.duration_seconds == pytest.approx(8, abs=0.2)  # read from the file, never typed in
    assert [(r["label"], r["height"], r["width"]) for r in video.renditions] == [
        ("流畅", 360, 640),
        ("标清", 480, 854),
        ("高清", 720, 1280),
    ]
    root = Path(settings.MEDIA_ROOT) / video.hls_prefix
    master = (root / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 3
    for name, label in (("360p", "流畅"), ("480p", "标清"), ("720p", "高清")):
        assert f'NAME="{label}"' in master
        assert f"{name}/index.m3u8" in master
        playlist = (root / name / "index.m3u8").read_text()
        assert "#EXT-X-ENDLIST" in playlist  # a complete VOD playlist
        info = transcode.probe(root / name / "index.m3u8")
        assert info.height == int(name[:-1])
        assert info.duration == pytest.approx(8, abs=0.5)
        assert info.has_audio
        assert sorted(p.name for p in (root / name).glob("seg_*.ts"))  # segments exist
    assert (root / "poster.jpg").stat().st_size > 1000
    assert AuditEntry.objects.filter(
        action="video.transcode", result="success", object_id=str(video.pk)
    ).exists()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("notes.txt", b"not a video", "video_type"),
        ("broken.mp4", b"\x00\x00\x00\x18ftypmp42garbage" * 50, "video_unreadable"),
    ],
    ids=["wrong-extension", "garbage-with-video-extension"],
)
def test_cat_05_a_bad_upload_is_refused_with_a_reason_and_stores_nothing(db, name, content, code):
    before = stored_files()
    with pytest.raises(DomainError) as err:
        video_upload(file=SimpleUploadedFile(name, content), title="坏文件")
    assert err.value.code == code
    assert name in err.value.message
    assert Video.objects.count() == 0
    assert stored_files() == before


def test_cat_05_an_audio_only_file_is_not_a_video(db, tmp_path):
    import subprocess

    audio = tmp_path / "sound.mp4"
    subprocess.run(
        [
            transcode.FFMPEG,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:a",
            "aac",
            str(audio),
        ],
        check=True,
    )
    with pytest.raises(DomainError) as err:
        video_upload(file=upload_of(audio), title="只有声音")
    assert "no video stream" in err.value.message
    assert Video.objects.count() == 0


def test_cat_05_a_failed_transcode_is_visible_leaves_no_output_and_can_be_retried(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        video = video_upload(file=upload_of(clip()), title="将要损坏")
    # The stored original is damaged before the worker picks it up (a disk fault, a half-synced bucket).
    original = Path(settings.MEDIA_ROOT) / video.original.name
    good = original.read_bytes()
    original.write_bytes(b"\x00" * 4096)
    for callback in callbacks:
        callback()
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert video.error
    assert video.hls_prefix == ""
    assert video.renditions == []
    assert not (Path(settings.MEDIA_ROOT) / f"videos/hls/{video.uuid}").exists() or not any(
        (Path(settings.MEDIA_ROOT) / f"videos/hls/{video.uuid}").rglob("*.ts")
    )
    assert AuditEntry.objects.filter(action="video.transcode", result="failure").exists()
    original.write_bytes(good)
    with django_capture_on_commit_callbacks(execute=True):
        video_retry(video=video)
    video.refresh_from_db()
    assert video.status == VideoStatus.READY


def test_cat_05_operators_upload_on_the_page_and_see_errors(
    world, web_client, django_capture_on_commit_callbacks
):
    client = web_client(world.operator)
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post("/catalog/videos/", {"title": "页面上传", "file": upload_of(clip())})
    assert ok.status_code == 302
    page = client.get("/catalog/videos/").content.decode()
    assert "页面上传" in page
    assert "流畅" in page
    bad = client.post("/catalog/videos/", {"title": "坏", "file": SimpleUploadedFile("x.mp4", b"junk" * 100)})
    assert bad.status_code == 400
    assert "x.mp4" in bad.content.decode()
    row = client.get(f"/catalog/videos/{Video.objects.get(title='页面上传').pk}/status/")
    assert b'data-status="ready"' in row.content


def test_cat_05_only_operators_reach_the_video_pages(world, web_client):
    for persona in (world.learner_nanshan, world.admin_nanshan, world.regulator_city):
        assert web_client(persona).get("/catalog/videos/").status_code == 403
