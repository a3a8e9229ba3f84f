"""ACC-08: personal data encrypted at rest, lookups by blind index, key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from conftest import PASSWORD, make_user
from safetrain.accounts.models import User, id_index_of
from safetrain.core.crypto import _fernet


def all_text_in_database() -> str:
    """Every value of every table, as the database stores it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_acc_08_the_database_never_holds_a_plain_id_number_name_or_phone(db):
    user = make_user(name="欧阳娜娜", phone="13812345678")
    client = Client()
    # A failed and a successful sign-in, so axes, the audit trail and sessions have rows too.
    client.post("/accounts/login/", {"username": user.id_number, "password": "wrong-Pass1"})
    client.post("/accounts/login/", {"username": user.id_number, "password": PASSWORD})
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, name, phone FROM accounts_user WHERE id = %s", [user.pk])
        raw_id, raw_name, raw_phone = cursor.fetchone()
    assert raw_id.startswith("gAAAA")
    assert user.id_number not in raw_id
    assert raw_name.startswith("gAAAA")
    assert raw_phone.startswith("gAAAA")
    dump = all_text_in_database()
    for secret in (user.id_number, user.id_number[:17], "欧阳娜娜", "13812345678"):
        assert secret not in dump
    # The ORM still reads it back, and the blind index finds the account.
    fresh = User.objects.get(id_index=id_index_of(user.id_number))
    assert (fresh.id_number, fresh.name, fresh.phone) == (user.id_number, "欧阳娜娜", "13812345678")


def test_acc_08_encrypted_columns_cannot_be_filtered_by_value(db):
    user = make_user()
    with pytest.raises(Exception, match="Unsupported lookup|unsupported lookup"):
        User.objects.filter(id_number__contains=user.id_number[:6]).count()


def test_acc_08_keys_rotate_without_losing_data(db, settings):
    user = make_user(name="旋转密钥")
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    _fernet.cache_clear()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *old_keys]):
        call_command("rotate_encryption_keys")
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):  # old keys dropped
        _fernet.cache_clear()
        again = User.objects.get(pk=user.pk)
        assert again.name == "旋转密钥"
        assert again.id_number == user.id_number
    _fernet.cache_clear()
