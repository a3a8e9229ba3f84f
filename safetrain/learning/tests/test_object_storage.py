"""CAT-05 on S3-compatible object storage: the pipeline stores its renditions in a bucket, playlists are streamed
through the checked view and segments are handed out as signed, expiring URLs. The bucket is a real S3 protocol
server (moto) on 127.0.0.1, started by the test."""

from __future__ import annotations

import socket
import urllib.request

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add, video_upload
from safetrain.catalog.tests.factories import clip, published_programme
from safetrain.core.management.commands.rotate_encryption_keys import encrypted_files, rewrite
from safetrain.learning.services import enrolment_create

BUCKET = "safetrain-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 300,
                "signature_version": "s3v4",
            },
        },
    }
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_cat_05_renditions_live_in_the_bucket_and_segments_get_signed_expiring_urls(
    world, web_client, s3_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        video = video_upload(
            file=SimpleUploadedFile("s3.mp4", clip(size="1280x720").read_bytes()), title="对象存储"
        )
    video.refresh_from_db()
    assert video.status == "ready", video.error
    keys = {o["Key"] for o in s3_storage.list_objects_v2(Bucket=BUCKET, Prefix=video.hls_prefix)["Contents"]}
    assert {f"{video.hls_prefix}/master.m3u8", f"{video.hls_prefix}/720p/index.m3u8"} <= keys
    assert any(k.endswith(".ts") for k in keys)

    course = course_create(code="S3C", title="对象存储课程")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
    course_publish(course=course)
    enrolment_create(learner=world.learner_nanshan, programme=published_programme("s3p", [course]))
    client = web_client(world.learner_nanshan)
    master = client.get(f"/media/videos/{video.uuid}/master.m3u8")
    assert master.status_code == 200
    assert "480p/index.m3u8" in b"".join(master.streaming_content).decode()
    segment_name = next(k for k in sorted(keys) if k.endswith(".ts")).removeprefix(f"{video.hls_prefix}/")
    response = client.get(f"/media/videos/{video.uuid}/{segment_name}")
    assert response.status_code == 302
    signed = response.url
    assert "X-Amz-Signature=" in signed
    assert "X-Amz-Expires=300" in signed
    with urllib.request.urlopen(signed) as fetched:
        assert fetched.read(1) == b"G"
    # Nobody else gets a URL at all.
    assert (
        web_client(world.learner_futian).get(f"/media/videos/{video.uuid}/{segment_name}").status_code == 403
    )


def test_acc_08_key_rotation_rewrites_an_encrypted_file_in_the_bucket_whole(s3_storage):
    """rotate_encryption_keys on object storage: no local path, so the new ciphertext is PUT as the whole object."""
    name = default_storage.save("photos/rotate-test.enc", ContentFile(b"old ciphertext"))
    assert name in set(encrypted_files())
    rewrite(name, b"new ciphertext")
    body = s3_storage.get_object(Bucket=BUCKET, Key=name)["Body"].read()
    assert body == b"new ciphertext"
