"""Checking the media files against the database (the restore drill, docs/operations.md): every file a legal record
names is there and is the file that was stored.

- reference photos (FaceTemplate, and the replaced ones kept in FacePhotoArchive): decrypted, their SHA-256 equals
  `photo_sha256`;
- snapshots of identity checks (FaceCheck): decrypted (both data ciphers authenticate each file: a changed byte
  fails);
- archive files of old records (ArchiveFile): checked by `verify_records` (their SHA-256), counted here.
A row written after the media backup was taken may name a file that backup cannot hold: such rows are counted apart
(`newer`), never as failures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from safetrain.core.crypto import InvalidCiphertext, decrypt_bytes
from safetrain.proctoring.models import FaceCheck, FacePhotoArchive, FaceTemplate
from safetrain.records.models import ArchiveFile


@dataclass
class MediaReport:
    checked: int = 0
    newer: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read(name: str) -> bytes | None:
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        return None


def _check_encrypted(report: MediaReport, what: str, name: str, sha256: str | None = None) -> None:
    """One encrypted file: present, decrypts (the cipher authenticates it), and equals its SHA-256 when one is kept."""
    report.checked += 1
    data = _read(name)
    if data is None:
        report.problems.append(f"{what} missing: {name}")
        return
    try:
        plain = decrypt_bytes(data)
    except InvalidCiphertext:
        report.problems.append(f"{what} damaged (does not decrypt): {name}")
        return
    if sha256 is not None and hashlib.sha256(plain).hexdigest() != sha256:
        report.problems.append(f"{what} differs from its SHA-256: {name}")


def media_verify(*, taken_at: dt.datetime | None = None) -> MediaReport:
    """Check the media files named by the records written before `taken_at` (the media backup's time; None: all)."""
    report = MediaReport()
    # (label, rows, their time, their file, their SHA-256 or "" for files checked by decryption alone)
    encrypted = (
        ("reference photo", FaceTemplate.objects.all(), "created_at", "photo_name", "photo_sha256"),
        (
            "archived reference photo",
            FacePhotoArchive.objects.all(),
            "uploaded_at",
            "photo_name",
            "photo_sha256",
        ),
        ("snapshot", FaceCheck.objects.exclude(snapshot_name=""), "at", "snapshot_name", ""),
    )
    for label, rows, time_field, name_field, sha_field in encrypted:
        fields = [time_field, name_field, *([sha_field] if sha_field else [])]
        for row in rows.order_by("pk").values_list(*fields).iterator(chunk_size=500):
            at, name, *sha = row
            if taken_at and at > taken_at:
                report.newer += 1
            else:
                _check_encrypted(report, label, name, *sha)
    for archive in ArchiveFile.objects.order_by("pk").only("pk", "name", "created_at"):
        if taken_at and archive.created_at > taken_at:
            report.newer += 1
            continue
        report.checked += 1
        if not default_storage.exists(archive.name):
            report.problems.append(f"archive file missing: {archive.name}")
    return report
