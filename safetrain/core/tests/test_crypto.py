"""ACC-08 / SEC-12 (GB/T 39786): personal data at rest under either data cipher, Fernet or SM4-GCM. Each token names
its cipher, so a database holding both reads; keys rotate; a switch from fernet to sm4 loses nothing; production
refuses to start with sm4 and no SM4 key; encrypted files (reference photos, snapshots) follow the setting."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection

from conftest import make_user
from safetrain.accounts.models import User, id_index_of
from safetrain.core import crypto
from safetrain.core.crypto import InvalidCiphertext, cipher_of, decrypt_bytes, encrypt_bytes

# Two SM4 keys, as the test settings carry two Fernet keys: every test runs with rotation in place.
SM4_KEYS = ["3f1c9a6e0b7d4e2f8a5c1d9e6b3a7f20", "c4e8b2a61f9d3075e2a8c6b4d0f19e37"]


@pytest.fixture(autouse=True)
def _own_media_folder(settings, tmp_path):
    """The rotation walks every encrypted file: only this test's files are there."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(params=crypto.CIPHERS)
def cipher(request, settings) -> str:
    settings.DATA_CIPHER = request.param
    settings.SM4_ENCRYPTION_KEYS = SM4_KEYS
    return request.param


def raw_row(table: str, columns: list[str], pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def stored_file(content: bytes) -> str:
    return default_storage.save("snapshots/crypto-test/frame.enc", ContentFile(encrypt_bytes(content)))


def read_file(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def altered(token: bytes) -> bytes:
    middle = len(token) // 2
    return token[:middle] + (b"A" if token[middle : middle + 1] != b"A" else b"B") + token[middle + 1 :]


def test_sec_12_values_and_files_round_trip_tagged_with_their_cipher(cipher):
    value = "欧阳娜娜 110101199003077777"
    token = crypto.encrypt_str(value)
    assert cipher_of(token) == cipher
    assert token.startswith("sm4:" if cipher == "sm4" else "gAAAAA")
    assert "欧阳" not in token
    assert "110101" not in token
    assert crypto.decrypt_str(token) == value
    assert crypto.encrypt_str(value) != token  # randomised: equal values never show as equal tokens
    assert crypto.token_is_current(token)
    frame = b"\xff\xd8\xff\xe0JFIF" + os.urandom(2000)
    sealed = encrypt_bytes(frame)
    assert cipher_of(sealed) == cipher
    assert b"JFIF" not in sealed
    assert decrypt_bytes(sealed) == frame
    # A changed byte, a foreign token or plain text is refused, never read as something else.
    for bad in (altered(sealed), b"sm4:" + base64.urlsafe_b64encode(os.urandom(40)), b"gAAAAA-plain"):
        with pytest.raises(InvalidCiphertext):
            decrypt_bytes(bad)
    assert cipher_of("欧阳娜娜") is None
    assert cipher_of('{"learner": {}}') is None


def test_acc_08_sec_12_the_database_holds_only_tokens_of_the_chosen_cipher(cipher, db):
    user = make_user(name="欧阳娜娜", phone="13812345678")
    raw = raw_row("accounts_user", ["id_number", "name", "phone"], user.pk)
    assert [cipher_of(v) for v in raw] == [cipher, cipher, cipher]
    assert not any(secret in "".join(raw) for secret in (user.id_number, "欧阳娜娜", "13812345678"))
    fresh = User.objects.get(id_index=id_index_of(user.id_number))
    assert (fresh.id_number, fresh.name, fresh.phone) == (user.id_number, "欧阳娜娜", "13812345678")


def test_acc_08_sec_12_keys_rotate_under_each_cipher_for_rows_and_files(cipher, db, settings):
    user = make_user(name="旋转密钥")
    name = stored_file(b"frame-1")
    setting = "SM4_ENCRYPTION_KEYS" if cipher == "sm4" else "FIELD_ENCRYPTION_KEYS"
    old_keys = list(getattr(settings, setting))
    new_key = os.urandom(16).hex() if cipher == "sm4" else Fernet.generate_key().decode()
    setattr(settings, setting, [new_key, *old_keys])
    assert not crypto.token_is_current(raw_row("accounts_user", ["name"], user.pk)[0])
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "accounts.User: 1 rows re-encrypted" in out.getvalue()
    assert "files: 1 re-encrypted" in out.getvalue()
    setattr(settings, setting, [new_key])  # the old keys dropped
    if cipher == "sm4":
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # nothing depends on Fernet now
    again = User.objects.get(pk=user.pk)
    assert (again.name, again.id_number) == ("旋转密钥", user.id_number)
    assert decrypt_bytes(read_file(name)) == b"frame-1"
    # Safe to run again: what is current is left as it is.
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "accounts.User: 0 rows re-encrypted" in out.getvalue()
    assert "files: 0 re-encrypted" in out.getvalue()


def test_sec_12_rows_and_files_written_under_fernet_read_after_switching_to_sm4(db, settings):
    settings.DATA_CIPHER = "fernet"
    before = make_user(name="旧密码算法")
    old_file = stored_file(b"fernet-frame")
    assert cipher_of(read_file(old_file)) == "fernet"
    settings.DATA_CIPHER, settings.SM4_ENCRYPTION_KEYS = "sm4", SM4_KEYS
    after = make_user(name="新密码算法")
    assert cipher_of(raw_row("accounts_user", ["name"], before.pk)[0]) == "fernet"
    assert cipher_of(raw_row("accounts_user", ["name"], after.pk)[0]) == "sm4"
    # Both kinds in one table read through the same field.
    assert {u.name for u in User.objects.filter(pk__in=[before.pk, after.pk])} == {"旧密码算法", "新密码算法"}
    assert decrypt_bytes(read_file(old_file)) == b"fernet-frame"
    # The rotation moves everything to SM4; then the Fernet keys no longer matter.
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert cipher_of(raw_row("accounts_user", ["name"], before.pk)[0]) == "sm4"
    assert cipher_of(read_file(old_file)) == "sm4"
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert User.objects.get(pk=before.pk).name == "旧密码算法"
    assert decrypt_bytes(read_file(old_file)) == b"fernet-frame"


def test_sec_12_sm4_tokens_are_standard_sm4_gcm_and_sm3_is_standard(settings):
    # RFC 8998 appendix A.1 (SM4-GCM): the library computes the standard's answer.
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(bytes.fromhex("00001234567800000000ABCD"))).encryptor()
    encryptor.authenticate_additional_data(bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"))
    sealed = encryptor.update(bytes.fromhex("AA" * 8 + "BB" * 8 + "CC" * 8 + "DD" * 8)) + encryptor.finalize()
    assert sealed.hex().upper() == "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    # GB/T 32905 example 1.
    assert crypto.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    # Our token is that primitive: key id (SM3 of the key), nonce, ciphertext, tag; its header authenticated.
    settings.DATA_CIPHER, settings.SM4_ENCRYPTION_KEYS = "sm4", SM4_KEYS
    token = encrypt_bytes("王五".encode())
    raw = base64.urlsafe_b64decode(token[4:])
    first = bytes.fromhex(SM4_KEYS[0])
    assert raw[:4] == crypto.sm3(first)[:4]
    decryptor = Cipher(algorithms.SM4(first), modes.GCM(raw[4:16], raw[-16:])).decryptor()
    decryptor.authenticate_additional_data(b"sm4:" + raw[:4])
    assert (decryptor.update(raw[16:-16]) + decryptor.finalize()).decode() == "王五"


def start_django(**overrides: str) -> subprocess.CompletedProcess:
    """A fresh process with the production settings, as a server would start: this process's environment (the test
    settings put every required key in it) with these variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_CIPHER", "SM4_ENCRYPTION_KEYS")}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", "SAFETRAIN_ENV_FILE": "/nonexistent", **overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sec_12_production_refuses_to_start_with_sm4_and_no_sm4_key(settings):
    refused = start_django(DATA_CIPHER="sm4")
    assert refused.returncode != 0
    assert "SM4_ENCRYPTION_KEYS is not set" in refused.stderr
    unknown = start_django(DATA_CIPHER="aes")
    assert unknown.returncode != 0
    assert "DATA_CIPHER must be fernet or sm4" in unknown.stderr
    assert start_django(DATA_CIPHER="sm4", SM4_ENCRYPTION_KEYS=SM4_KEYS[0]).returncode == 0
    # A malformed key stops `manage.py check` (and so the deploy) before any value is written with it.
    settings.DATA_CIPHER, settings.SM4_ENCRYPTION_KEYS = "sm4", ["not-hex"]
    assert "safetrain.E001" in [e.id for e in run_checks()]
    settings.SM4_ENCRYPTION_KEYS = SM4_KEYS
    assert not [e for e in run_checks() if e.id in ("safetrain.E001", "safetrain.E002")]


def test_sec_12_reference_photos_are_stored_with_the_chosen_cipher(world, settings):
    from safetrain.integrations.mediacheck import media_verify
    from safetrain.proctoring.services import reference_photo, reference_photo_set
    from safetrain.proctoring.tests.test_reference_photo import portrait

    settings.DATA_CIPHER, settings.SM4_ENCRYPTION_KEYS = "sm4", SM4_KEYS
    data = portrait("obama.jpg")
    template = reference_photo_set(user=world.learner_nanshan, data=data, actor=world.learner_nanshan)
    stored = read_file(template.photo_name)
    assert cipher_of(stored) == "sm4"
    assert b"JFIF" not in stored
    assert reference_photo(template) == data
    report = media_verify()  # the restore drill's check decrypts and compares it too
    assert report.ok
    assert report.checked == 1


def test_ops_06_static_files_are_collected_without_secrets_and_nothing_else_starts_without_them(tmp_path):
    """A release (an image) is built without the secrets: collectstatic reads no data. The server and every other
    command still refuse to start without them."""
    root = Path(__file__).resolve().parents[3]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "SECRET_KEY", "FIELD_ENCRYPTION", "BLIND_INDEX", "AUDIT_", "SM4_", "DATA_CIPHER")
        )
    }
    env |= {"SAFETRAIN_ENV_FILE": "/nonexistent", "DEBUG": "false", "STATIC_ROOT": str(tmp_path / "static")}
    manage = [sys.executable, "manage.py"]
    built = subprocess.run(
        [*manage, "collectstatic", "--noinput", "-v", "0"], cwd=root, env=env, capture_output=True
    )
    assert built.returncode == 0, built.stderr.decode()
    assert (tmp_path / "static" / "staticfiles.json").exists()
    refused = subprocess.run([*manage, "check"], cwd=root, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
