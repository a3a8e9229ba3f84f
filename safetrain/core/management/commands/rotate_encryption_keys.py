"""Re-encrypt every encrypted column and file with the current cipher and its first key (ACC-08 key rotation).

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (or SM4_ENCRYPTION_KEYS under DATA_CIPHER=sm4; keep the
old ones after it), deploy, run this command, then remove the old keys. Switching from fernet to sm4 is the same:
set DATA_CIPHER=sm4 and SM4_ENCRYPTION_KEYS, keep FIELD_ENCRYPTION_KEYS, deploy, run this command. Encrypted files
are the storage's "*.enc" files (reference photos, snapshots). Runs in batches; safe to run again: what is already
under the current cipher and key is left as it is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from safetrain.core.crypto import InvalidCiphertext, rotate_bytes, rotate_token, token_is_current
from safetrain.core.fields import EncryptedTextField


def encrypted_files(folder: str = "") -> Iterator[str]:
    """Every "*.enc" file of the default storage, walked from `folder`."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:  # no media folder yet
        return
    for name in files:
        if name.endswith(".enc"):
            yield f"{folder}{name}"
    for sub in folders:
        yield from encrypted_files(f"{folder}{sub}/")


def rewrite(name: str, data: bytes) -> None:
    """Replace a stored file's content; on the file system atomically (a crash never leaves half a photo)."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:  # object storage: a PUT replaces the object whole
        with default_storage.open(name, "wb") as handle:
            handle.write(data)
        return
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".rotating-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, os.stat(path).st_mode & 0o777)
    os.replace(temporary, path)


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields and files with the current cipher and first key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options) -> None:
        self.rotate_columns(options["batch_size"])
        self.rotate_files()

    def rotate_columns(self, size: int) -> None:
        qn = connection.ops.quote_name
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            table = model._meta.db_table
            columns = [f.column for f in fields]
            pk = model._meta.pk.column
            rotated = 0
            last = None
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    where = f"WHERE {qn(pk)} > %s " if last is not None else ""
                    cursor.execute(
                        f"SELECT {qn(pk)}, {', '.join(qn(c) for c in columns)} FROM {qn(table)} "
                        f"{where}ORDER BY {qn(pk)} LIMIT %s",
                        [last, size] if last is not None else [size],
                    )
                    rows = cursor.fetchall()
                    for row in rows:
                        if all(not v or token_is_current(v) for v in row[1:]):
                            continue
                        values = [rotate_token(v) if v else v for v in row[1:]]
                        sets = ", ".join(f"{qn(c)} = %s" for c in columns)
                        cursor.execute(
                            f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk)} = %s", [*values, row[0]]
                        )
                        rotated += 1
                if len(rows) < size:
                    break
                last = rows[-1][0]
            self.stdout.write(f"{model._meta.label}: {rotated} rows re-encrypted ({', '.join(columns)})")

    def rotate_files(self) -> None:
        rotated, unreadable = 0, []
        for name in encrypted_files():
            with default_storage.open(name, "rb") as handle:
                token = handle.read()
            if token_is_current(token):
                continue
            try:
                rewrite(name, rotate_bytes(token))
            except (InvalidCiphertext, ImproperlyConfigured):
                # Damaged, or under a key no longer listed: unreadable already, so the rotation goes on without it.
                unreadable.append(name)
                continue
            rotated += 1
        self.stdout.write(f"files: {rotated} re-encrypted")
        if unreadable:
            self.stderr.write(
                f"files: {len(unreadable)} do not decrypt with the configured keys (`manage.py verify_media` "
                "lists the damaged ones): " + ", ".join(unreadable[:20])
            )
