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
    assert 'CODECS="avc1.4d4028,mp4a.40.2"' in master
    for line in (ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF")):
        attributes = dict(
            a.split("=", 1) for a in line.split(":", 1)[1].replace('"', "").split(",") if "=" in a
        )
        assert int(attributes["BANDWIDTH"]) >= int(attributes["AVERAGE-BANDWIDTH"]) > 0
    for name, label in (("360p", "流畅"), ("480p", "标清"), ("720p", "高清")):
        assert f'NAME="{label}"' in master
        assert f"{name}/index.m3u8" in master
        playlist = (root / name / "index.m3u8").read_text()
        assert "#EXT-X-ENDLIST" in playlist  # a complete VOD playlist
        info = transcode.probe(root / name / "index.m3u8", playlist=True)
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
    assert "没有画面" in err.value.message  # the Chinese message, not ffprobe's words
    assert Video.objects.count() == 0


def test_cat_05_a_failed_transcode_is_visible_leaves_no_output_and_can_be_retried(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    """The storage fails half-way through writing the renditions (disk full, bucket down): what was written goes."""
    from django.core.files.storage import default_storage

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        video = video_upload(file=upload_of(clip()), title="写到一半失败")
    real_save = default_storage.save
    calls = []

    def failing_save(name, content, **kwargs):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("No space left on device")
        return real_save(name, content, **kwargs)

    monkeypatch.setattr(default_storage, "save", failing_save)
    for callback in callbacks:
        callback()
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert "No space left on device" in video.error
    assert video.hls_prefix == ""
    assert len(calls) == 3  # two files were written before the failure ...
    hls_root = Path(settings.MEDIA_ROOT) / f"videos/hls/{video.uuid}"
    assert not [p for p in hls_root.rglob("*") if p.is_file()]  # ... and all of them were removed
    assert AuditEntry.objects.filter(action="video.transcode", result="failure").exists()
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        video_retry(video=video)
    video.refresh_from_db()
    assert video.status == VideoStatus.READY
    with pytest.raises(DomainError):
        video_retry(video=video)  # a ready video is not transcoded again


def test_cat_05_a_video_is_transcoded_once_even_if_two_workers_get_the_task(
    db, django_capture_on_commit_callbacks
):
    from safetrain.catalog.services import video_transcode

    with django_capture_on_commit_callbacks(execute=True):
        video = video_upload(file=upload_of(clip()), title="重复投递")
    first = Video.objects.get(pk=video.pk)
    assert first.status == VideoStatus.READY
    again = video_transcode(video_id=video.pk)  # a redelivered task finds it done and changes nothing
    assert (again.status, again.hls_prefix, again.finished_at) == (
        first.status,
        first.hls_prefix,
        first.finished_at,
    )
    assert AuditEntry.objects.filter(action="video.transcode", object_id=str(video.pk)).count() == 1


def test_ops_04_a_video_whose_message_the_broker_lost_is_sent_again_and_transcoded_once(
    db, django_capture_on_commit_callbacks
):
    """Redis lost the transcoding task (a restart, a failover): the video waits as queued in the database and the
    periodic re-send (catalog.requeue_waiting) transcodes it; a later re-send finds nothing waiting."""
    import datetime as dt

    from safetrain.catalog.services import videos_requeue_waiting

    with django_capture_on_commit_callbacks(execute=False):  # the message never reaches a worker
        video = video_upload(file=upload_of(clip()), title="消息丢失")
    assert Video.objects.get(pk=video.pk).status == VideoStatus.QUEUED
    assert videos_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 0  # not waiting long yet
    Video.objects.filter(pk=video.pk).update(created_at=video.created_at - dt.timedelta(minutes=31))
    assert videos_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 1  # eager Celery here: runs now
    assert Video.objects.get(pk=video.pk).status == VideoStatus.READY
    assert videos_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 0
    assert AuditEntry.objects.filter(action="video.transcode", object_id=str(video.pk)).count() == 1


def test_cat_05_portrait_small_and_silent_sources(db, django_capture_on_commit_callbacks):
    portrait = transcode.make_test_clip(clip().parent / "portrait.mp4", seconds=4, size="720x1280")
    with django_capture_on_commit_callbacks(execute=True):
        upright = video_upload(file=upload_of(portrait), title="竖屏")
    upright.refresh_from_db()
    assert [(r["width"], r["height"]) for r in upright.renditions] == [(360, 640), (480, 854), (720, 1280)]

    small = transcode.make_test_clip(clip().parent / "small.mp4", seconds=4, size="426x240")
    with django_capture_on_commit_callbacks(execute=True):
        tiny = video_upload(file=upload_of(small), title="小视频")
    tiny.refresh_from_db()
    assert [r["label"] for r in tiny.renditions] == ["流畅"]  # never upscaled; the lowest always exists

    import subprocess

    silent_path = clip().parent / "silent.mp4"
    subprocess.run(
        [
            transcode.FFMPEG,
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(silent_path),
        ],
        check=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        silent = video_upload(file=upload_of(silent_path), title="无声")
    silent.refresh_from_db()
    assert silent.status == VideoStatus.READY
    master = (Path(settings.MEDIA_ROOT) / silent.hls_prefix / "master.m3u8").read_text()
    assert 'CODECS="avc1.4d4028"' in master


def test_cat_05_a_playlist_disguised_as_a_video_is_refused(db, tmp_path):
    disguised = tmp_path / "evil.mp4"
    disguised.write_text("#EXTM3U\n#EXTINF:6,\nhttp://127.0.0.1:1/secret.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(DomainError) as err:
        video_upload(file=upload_of(disguised), title="伪装")
    assert err.value.code == "video_unreadable"
    assert Video.objects.count() == 0


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
