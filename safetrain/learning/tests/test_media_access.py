"""CAT-05/CAT-06: segments, playlists, materials and documents only for signed-in, enrolled learners."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from safetrain.catalog.services import material_add
from safetrain.catalog.tests.factories import published_course, published_programme, ready_video
from safetrain.learning.services import enrolment_create


@pytest.fixture
def setup(world):
    video = ready_video("受保护视频")
    course = published_course("SEC-1", "受保护课程", video=video)
    material = material_add(course=course, title="导学资料", file=ContentFile(b"guide", name="guide.txt"))
    programme = published_programme("sec-prog", [course], deadline_kind="after_opening", deadline_days=30)
    enrolment_create(learner=world.learner_nanshan, programme=programme)
    return video, course, material


def media(video, name="master.m3u8"):
    return f"/media/videos/{video.uuid}/{name}"


def test_cat_05_anonymous_visitors_get_403_for_playlists_and_segments(setup, client):
    video, _, _ = setup
    assert client.get(media(video)).status_code == 403
    assert client.get(media(video, "360p/seg_0000.ts")).status_code == 403


def test_cat_05_a_signed_in_learner_not_enrolled_gets_403(setup, world, web_client):
    video, course, material = setup
    client = web_client(world.learner_futian)
    assert client.get(media(video)).status_code == 403
    assert client.get(media(video, "720p/index.m3u8")).status_code == 403
    assert client.get(f"/courses/{course.code}/lessons/{course.lessons().first().pk}/").status_code == 403
    assert client.get(f"/courses/{course.code}/materials/{material.pk}/").status_code == 403


def test_cat_05_an_enrolled_learner_streams_the_playlists_and_segments(setup, world, web_client):
    video, course, material = setup
    client = web_client(world.learner_nanshan)
    master = client.get(media(video))
    assert master.status_code == 200
    assert master["Content-Type"] == "application/vnd.apple.mpegurl"
    body = b"".join(master.streaming_content).decode()
    assert "360p/index.m3u8" in body
    rendition = b"".join(client.get(media(video, "360p/index.m3u8")).streaming_content).decode()
    segment = next(line for line in rendition.splitlines() if line.endswith(".ts"))
    ts = client.get(media(video, f"360p/{segment}"))
    assert ts.status_code == 200
    assert b"".join(ts.streaming_content)[:1] == b"G"  # MPEG-TS sync byte
    download = client.get(f"/courses/{course.code}/materials/{material.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"guide"


def test_cat_05_paths_outside_the_video_are_not_served(setup, world, web_client):
    video, _, _ = setup
    client = web_client(world.learner_nanshan)
    other = ready_video("别的视频")  # a video of a course the learner is NOT enrolled in
    for name in (
        "../../originals/none.mp4",
        "360p/../../../../settings.py",
        "master.txt",
        f"../{other.uuid}/master.m3u8",
        f"360p/../../{other.uuid}/360p/index.m3u8",
        f"%2e%2e/{other.uuid}/master.m3u8",
    ):
        assert client.get(media(video, name)).status_code == 404, name


def test_cat_05_a_learner_enrolled_a_moment_ago_can_watch_at_once(setup, world, web_client):
    from safetrain.catalog.models import Programme

    video, _, _ = setup
    client = web_client(world.learner_futian)
    assert client.get(media(video)).status_code == 403
    enrolment_create(learner=world.learner_futian, programme=Programme.objects.get(code="sec-prog"))
    assert client.get(media(video)).status_code == 200


def test_lrn_07_an_expired_enrolment_no_longer_opens_the_videos(setup, world):
    video, _, _ = setup
    with time_machine.travel(timezone.now() + dt.timedelta(days=29), tick=False):
        before = Client()
        before.force_login(world.learner_nanshan, backend="safetrain.accounts.backends.IdentityBackend")
        assert before.get(media(video)).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=31), tick=False):
        fresh = Client()
        fresh.force_login(world.learner_nanshan, backend="safetrain.accounts.backends.IdentityBackend")
        assert fresh.get(media(video)).status_code == 403


def test_cat_05_operators_can_preview(setup, world, web_client):
    video, _, _ = setup
    assert web_client(world.operator).get(media(video)).status_code == 200


def test_uploaded_files_are_not_public(setup, client):
    video, _, material = setup
    for name in (f"{video.hls_prefix}/master.m3u8", material.file.name, video.original.name):
        assert client.get(f"/files/{name}").status_code == 404


def test_prg_04_a_unit_admin_records_an_offline_session_for_its_enrolled_people(setup, world, web_client):
    import subprocess
    import tempfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from safetrain.catalog.models import OfflineSession, Programme
    from safetrain.catalog.transcode import FFMPEG

    with tempfile.TemporaryDirectory() as tmp:
        jpg = f"{tmp}/sheet.jpg"
        subprocess.run(
            [
                FFMPEG,
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:duration=1",
                "-frames:v",
                "1",
                jpg,
            ],
            check=True,
        )
        photo = SimpleUploadedFile("sheet.jpg", open(jpg, "rb").read(), content_type="image/jpeg")
    programme = Programme.objects.get(code="sec-prog")
    enrolment_create(
        learner=world.learner_futian, programme=programme
    )  # enrolled, but another county's person
    client = web_client(world.admin_nanshan)
    page = client.get("/learn/offline/").content.decode()
    assert "南山学员" in page
    assert "福田学员" not in page
    response = client.post(
        "/learn/offline/",
        {
            "programme": programme.pk,
            "organisation": world.ent_nanshan.pk,
            "date": "2026-11-01",
            "place": "会议室",
            "teacher": "王老师",
            "content": "本单位操作规程",
            "minutes": "120",
            "present": [world.learner_nanshan.pk],
            "photos": [photo],
        },
    )
    assert response.status_code == 302
    session = OfflineSession.objects.get()
    assert [a.learner for a in session.attendance.all()] == [world.learner_nanshan]
    assert session.photos.count() == 1
    bad = client.post(
        "/learn/offline/",
        {
            "programme": programme.pk,
            "organisation": world.ent_futian.pk,
            "date": "2026-11-01",
            "place": "x",
            "teacher": "y",
            "content": "z",
            "minutes": "60",
        },
    )
    assert bad.status_code == 400  # another county's unit is not a choice
    assert OfflineSession.objects.count() == 1
    assert web_client(world.learner_nanshan).get("/learn/offline/").status_code == 403
