"""REC-03/REC-04 groundwork: the audit trail is append-only and hash-chained; tampering is detected."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from conftest import make_user
from safetrain.records.dbtriggers import disable_for_test_sql
from safetrain.records.models import AppendOnlyError, AuditEntry, ChainHead
from safetrain.records.services import audit_log, verify_chain

TABLE = AuditEntry._meta.db_table


def write_entries(n: int) -> list[AuditEntry]:
    return [audit_log(action=f"test.entry{i}", detail={"i": i, "text": "整改"}) for i in range(n)]


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def open_the_table_like_a_dba() -> None:
    for statement in disable_for_test_sql(connection.vendor, TABLE):
        raw(statement)


def test_rec_04_entries_are_chained_and_the_chain_verifies(db, capsys):
    entries = write_entries(4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[1].prev_hash == entries[0].hash
    assert verify_chain(AuditEntry).ok
    call_command("verify_audit_chain")
    assert "audit chain OK: 4 entries" in capsys.readouterr().out


def test_rec_03_service_writes_carry_who_where_what_and_result(db, rf):
    user = make_user()
    request = rf.get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="UnitTest/1.0")
    request.user = user
    entry = audit_log(action="thing.do", obj=user, request=request, result="denied")
    assert (entry.actor_id, entry.ip, entry.user_agent, entry.result) == (
        user.pk,
        "10.1.2.3",
        "UnitTest/1.0",
        "denied",
    )
    assert (entry.object_type, entry.object_id) == ("accounts.user", str(user.pk))
    assert entry.organisation_id == user.primary_organisation_id


def test_rec_04_the_orm_refuses_updates_and_deletes(db):
    entry = write_entries(1)[0]
    entry.action = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def test_rec_04_the_database_refuses_raw_updates_and_deletes(db):
    entry = write_entries(1)[0]
    for sql in (f"UPDATE {TABLE} SET action = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry0"


def test_rec_04_a_tampered_row_is_found_and_named(db):
    entries = write_entries(5)
    open_the_table_like_a_dba()
    raw(f"UPDATE {TABLE} SET result = 'success', action = 'test.innocent' WHERE id = %s", [entries[2].pk])
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 3
    assert "altered" in report.reason
    with pytest.raises(CommandError, match="BROKEN at entry 3"):
        call_command("verify_audit_chain")


def test_rec_04_a_rehashed_forgery_still_breaks_the_next_link(db):
    entries = write_entries(4)
    open_the_table_like_a_dba()
    forged = AuditEntry.objects.get(pk=entries[1].pk)
    forged.detail = {"i": 99}
    raw(
        f"UPDATE {TABLE} SET detail = %s, hash = %s WHERE id = %s",
        ['{"i": 99}', forged.compute_hash(), forged.pk],
    )
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 3


def test_rec_04_a_deleted_row_is_found(db):
    entries = write_entries(4)
    open_the_table_like_a_dba()
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [entries[1].pk])
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 2
    assert "missing" in report.reason


def test_rec_04_a_cut_off_tail_is_found(db):
    entries = write_entries(3)
    open_the_table_like_a_dba()
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [entries[-1].pk])
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert "head says 3" in report.reason
    assert ChainHead.objects.get(name="audit").seq == 3


def test_rec_04_the_chain_head_cannot_be_reset_or_removed(db):
    write_entries(3)
    for sql in (
        "UPDATE records_chainhead SET seq = 0 WHERE name = 'audit'",
        "DELETE FROM records_chainhead WHERE name = 'audit'",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(sql)
    assert ChainHead.objects.get(name="audit").seq == 3


def test_rec_04_emptying_the_trail_at_once_is_refused(db):
    """TRUNCATE on PostgreSQL; on SQLite an unqualified DELETE is its truncate (run with the triggers in place)."""
    write_entries(2)
    sql = f"TRUNCATE {TABLE}" if connection.vendor == "postgresql" else f"DELETE FROM {TABLE}"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(sql)
    assert AuditEntry.objects.count() == 2
