"""OPS-03: the restore drill's media check (verify_media) finds a missing, a changed and a foreign file, and counts
files newer than the media backup apart."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from conftest import make_user
from safetrain.core.crypto import encrypt_bytes
from safetrain.integrations.mediacheck import media_verify
from safetrain.proctoring.models import FaceCheck, FaceTemplate


def _photo(user, data: bytes) -> FaceTemplate:
    name = default_storage.save(f"faces/{user.pk}/test.enc", ContentFile(encrypt_bytes(data)))
    return FaceTemplate.objects.create(
        user=user,
        template="[]",
        photo_name=name,
        photo_sha256=hashlib.sha256(data).hexdigest(),
        width=1,
        height=1,
        provider="test",
    )


def _snapshot(user, content: bytes, at: dt.datetime) -> FaceCheck:
    name = default_storage.save(f"snapshots/{user.pk}/test.enc", ContentFile(content))
    return FaceCheck.objects.create(user=user, purpose="login", at=at, passed=True, snapshot_name=name)


@pytest.mark.django_db
def test_ops_03_media_files_are_checked_against_their_records(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    good, changed, gone, later = (make_user(name=n) for n in ("甲", "乙", "丙", "丁"))
    _photo(good, b"photo of good")
    photo = _photo(changed, b"photo of changed")
    photo.photo_sha256 = hashlib.sha256(b"another photo").hexdigest()
    photo.save()
    missing = _photo(gone, b"photo of gone")
    default_storage.delete(missing.photo_name)
    now = timezone.now()
    _snapshot(good, encrypt_bytes(b"frame"), now)
    _snapshot(changed, b"not encrypted by us", now)
    _snapshot(later, b"whatever", now + dt.timedelta(hours=1))  # after the media backup: not checked

    report = media_verify(taken_at=now + dt.timedelta(minutes=1))
    assert (report.checked, report.newer) == (5, 1)
    assert sorted(p.split(":")[0] for p in report.problems) == [
        "reference photo differs from its SHA-256",
        "reference photo missing",
        "snapshot damaged (does not decrypt)",
    ]
    with pytest.raises(CommandError, match="3 media problem"):
        call_command("verify_media", "--taken-at", (now + dt.timedelta(minutes=1)).isoformat())
    with pytest.raises(CommandError, match="zone"):
        call_command("verify_media", "--taken-at", "2026-12-07 10:00")


@pytest.mark.django_db
def test_ops_03_media_files_that_match_pass(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = make_user()
    _photo(user, b"photo")
    _snapshot(user, encrypt_bytes(b"frame"), timezone.now())
    report = media_verify()
    assert (report.ok, report.checked, report.newer) == (True, 2, 0)
    call_command("verify_media")
