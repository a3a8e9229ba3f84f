"""OPS-06 (GB/T 22239 level 3, audit record protection) and REC-04: the hash chains are keyed, their heads are signed
into checkpoints outside the database, SM3 is a chain-hash option, and the rows hashed before the chains were keyed
still verify without opening a way to downgrade the keyed ones.

The attacks are those of someone with write access to the database: the append-only triggers are switched off as
a database administrator would, rows are changed in SQL, and every later hash and the chain head are recomputed."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from gmssl import func as gmssl_func
from gmssl import sm3 as gmssl_sm3

from safetrain.assessment.tests.conftest import programme  # noqa: F401 - fixture
from safetrain.core import chainhash
from safetrain.learning.models import StudyRecord
from safetrain.records import checkpoints
from safetrain.records.dbtriggers import disable_for_test_sql
from safetrain.records.models import CHAIN_KEYED_ACTION, GENESIS_HASH, AuditEntry, ChainHead, RecordSeal
from safetrain.records.sealing import SOURCES, seal_all, verify_records
from safetrain.records.services import (
    audit_log,
    chain_append,
    checkpoint_write,
    verify_chain,
)
from safetrain.records.tasks import checkpoint_task
from safetrain.records.tests.test_sealing import enrolment, write_study  # noqa: F401 - fixture

key_the_chains = importlib.import_module("safetrain.records.migrations.0006_key_the_chains").key_the_chains


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    """Checkpoints of this test only: a media folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def open_like_a_dba(*tables: str) -> None:
    if connection.vendor == "postgresql":
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while deferred FK checks are pending
    for table in tables:
        for statement in disable_for_test_sql(connection.vendor, table):
            raw(statement)


def write_entries(n: int) -> list[AuditEntry]:
    return [audit_log(action=f"test.entry{i}", detail={"i": i}) for i in range(n)]


def pre_key_canonical(row) -> str:
    """The text the chains were hashed over before they were keyed (what an attacker recomputes)."""
    values = [row.seq]
    for name in row.hashed_fields:
        value = getattr(row, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        values.append(value)
    values.append(row.prev_hash)
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def plain_sha256(row) -> str:
    return hashlib.sha256(pre_key_canonical(row).encode()).hexdigest()


def rewrite(
    model, seq: int, *, change: dict, hasher, alg: str | None = None, until: int | None = None
) -> None:
    """Change row `seq` in SQL, then recompute its hash, every later row's link and hash (up to `until`), and the
    chain head."""
    table = model._meta.db_table
    open_like_a_dba(table, "records_chainhead")
    prev = model.objects.get(seq=seq - 1).hash if seq > 1 else GENESIS_HASH
    rows = model.objects.filter(seq__gte=seq).order_by("seq")
    for row in rows.filter(seq__lte=until) if until else rows:
        if row.seq == seq:
            for name, value in change.items():
                setattr(row, name, value)
        row.prev_hash = prev
        if alg:
            row.hash_alg = alg
        row.hash = hasher(row)
        columns = {**(change if row.seq == seq else {}), "prev_hash": row.prev_hash, "hash": row.hash}
        columns["hash_alg"] = row.hash_alg
        assignments = ", ".join(f"{name} = %s" for name in columns)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in columns.values()]
        raw(f"UPDATE {table} SET {assignments} WHERE id = %s", [*values, row.pk])
        prev = row.hash
    if until is None:
        raw("UPDATE records_chainhead SET hash = %s WHERE name = %s", [prev, model.chain_name])


def cut_tail(model, keep: int) -> None:
    """Delete the rows after `keep` and move the head back, as an attacker hiding them would."""
    open_like_a_dba(model._meta.db_table, "records_chainhead")
    raw(f"DELETE FROM {model._meta.db_table} WHERE seq > %s", [keep])
    row = model.objects.get(seq=keep)
    raw(
        "UPDATE records_chainhead SET seq = %s, hash = %s WHERE name = %s", [keep, row.hash, model.chain_name]
    )


def stored_checkpoints(chain: str = "audit") -> list[str]:
    names = []
    days = default_storage.listdir(f"audit-checkpoints/{chain}")[0]
    for day in days:
        names += [
            f"audit-checkpoints/{chain}/{day}/{f}"
            for f in default_storage.listdir(f"audit-checkpoints/{chain}/{day}")[1]
        ]
    return sorted(names)


# Keyed rows ----------------------------------------------------------------------------------------------------


def test_ops_06_new_rows_carry_an_hmac_under_the_chain_key_not_a_plain_hash(db):
    entry = write_entries(1)[0]
    assert entry.hash_alg == "hmac-sha256"
    text = entry.canonical().encode()
    assert entry.hash == hmac.new(django_settings.AUDIT_CHAIN_KEY.encode(), text, "sha256").hexdigest()
    assert entry.hash != hashlib.sha256(text).hexdigest()
    assert entry.hash != plain_sha256(entry)


@pytest.mark.parametrize("relabel", [False, True], ids=["keeps-its-label", "relabelled-sha256"])
def test_ops_06_a_row_changed_with_every_later_hash_and_the_head_recomputed_in_plain_sha256_is_found(
    db, relabel
):
    write_entries(5)
    assert verify_chain(AuditEntry).ok
    rewrite(
        AuditEntry,
        2,
        change={"action": "test.innocent", "detail": {"i": 99}},
        hasher=plain_sha256,
        alg="sha256" if relabel else None,
    )
    assert (
        ChainHead.objects.get(name="audit").hash == AuditEntry.objects.get(seq=5).hash
    )  # consistent rewrite
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 2
    assert ("unkeyed" if relabel else "altered") in report.reason
    with pytest.raises(CommandError, match="BROKEN at entry 2"):
        call_command("verify_audit_chain")


# Checkpoints ---------------------------------------------------------------------------------------------------


def test_ops_06_the_beat_task_and_the_command_write_signed_checkpoints_of_every_chain_to_storage(
    db,
    enrolment,  # noqa: F811
    capsys,
):
    assert django_settings.CELERY_BEAT_SCHEDULE["records-checkpoint"]["task"] == "records.checkpoint"
    entries = write_entries(3)
    write_study(enrolment, 2)
    seal_all()
    written = checkpoint_task.delay().get()
    assert set(written) == {"audit", "record_seals"}
    with default_storage.open(written["audit"], "rb") as handle:
        document = json.loads(handle.read())
    payload = document["checkpoint"]
    head = ChainHead.objects.get(name="audit")
    assert (payload["chain"], payload["seq"], payload["hash"], payload["count"]) == (
        "audit",
        head.seq,
        head.hash,
        head.seq,
    )
    assert payload["id"] == AuditEntry.objects.get(seq=head.seq).pk
    assert head.seq >= len(entries)
    public = checkpoints.signing_key().public_key()
    public.verify(
        base64.b64decode(document["signature"]["value"]),
        json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(),
    )
    assert written["audit"].startswith(
        f"audit-checkpoints/audit/{timezone.now().astimezone(dt.UTC):%Y-%m-%d}/"
    )
    assert len(stored_checkpoints("record_seals")) == 1

    audit_log(action="test.later")
    call_command("checkpoint_chains")
    assert "checkpoints written" in capsys.readouterr().out
    assert len(stored_checkpoints("audit")) == 2
    report = verify_chain(AuditEntry)
    assert report.ok
    assert stored_checkpoints("audit")[-1] in report.checkpoint
    call_command("verify_records")
    out = capsys.readouterr().out
    assert out.count("checkpoint audit-checkpoints/") == 2  # the audit chain and the seal chain


def test_ops_06_an_attacker_holding_the_chain_key_who_rewrites_consistently_is_caught_by_the_checkpoint(db):
    write_entries(5)
    checkpoint_write(AuditEntry)
    write_entries(1)
    rewrite(AuditEntry, 2, change={"action": "test.innocent"}, hasher=lambda row: row.compute_hash())
    report = verify_chain(AuditEntry, checkpoints=False)
    assert report.ok  # the chain alone is consistent: the key was used
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 5
    assert "does not carry the hash of checkpoint" in report.reason
    with pytest.raises(CommandError, match="rewritten"):
        call_command("verify_audit_chain")
    with pytest.raises(CommandError, match="not checkpointed"):
        call_command("checkpoint_chains")  # and no new checkpoint vouches for it


def test_ops_06_a_cut_off_tail_with_its_head_moved_back_is_caught_by_the_checkpoint(db):
    write_entries(5)
    checkpoint_write(AuditEntry)
    cut_tail(AuditEntry, 3)
    assert verify_chain(AuditEntry, checkpoints=False).ok
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert "the chain ends at row 3" in report.reason
    assert "cut off" in report.reason
    with pytest.raises(CommandError, match="cut off"):
        call_command("verify_audit_chain")


def test_ops_06_a_copy_restored_to_an_earlier_moment_is_compared_with_the_newest_checkpoint_before_it(
    db, capsys
):
    write_entries(3)
    first = checkpoint_write(AuditEntry, now=timezone.now() - dt.timedelta(hours=2))
    write_entries(2)
    checkpoint_write(AuditEntry, now=timezone.now() - dt.timedelta(hours=1))
    cut_tail(AuditEntry, 3)  # what a point-in-time copy of the first moment holds
    with pytest.raises(CommandError, match="cut off"):
        call_command("verify_audit_chain")
    restored_to = (first.at + dt.timedelta(minutes=30)).isoformat()
    call_command("verify_audit_chain", "--as-of", restored_to)
    out = capsys.readouterr().out
    assert "audit chain OK: 3 entries" in out
    assert first.name in out
    assert "the newest taken at or before" in out
    # ... and the older checkpoint still catches a rewrite in that copy.
    rewrite(AuditEntry, 1, change={"action": "test.innocent"}, hasher=lambda row: row.compute_hash())
    with pytest.raises(CommandError, match="rewritten"):
        call_command("verify_audit_chain", "--as-of", restored_to)


def test_ops_06_a_forged_or_altered_checkpoint_is_a_signature_error(db):
    write_entries(3)
    genuine = checkpoint_write(AuditEntry)
    with default_storage.open(genuine.name, "rb") as handle:
        document = json.loads(handle.read())
    # Altered: a later checkpoint claiming another head, with the genuine signature.
    document["checkpoint"]["hash"] = "f" * 64
    later = dt.datetime.fromisoformat(document["checkpoint"]["at"]) + dt.timedelta(minutes=1)
    document["checkpoint"]["at"] = later.isoformat()
    name = f"audit-checkpoints/audit/{later:%Y-%m-%d}/{later:%H%M%S%f}-{3:012d}.json"
    default_storage.save(name, ContentFile(json.dumps(document).encode()))
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert "the signature does not verify" in report.reason
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("verify_audit_chain")
    default_storage.delete(name)
    # Forged: signed by another key that claims the platform's key id.
    forger = Ed25519PrivateKey.generate()
    payload = {**document["checkpoint"], "hash": AuditEntry.objects.get(seq=3).hash}
    signature = forger.sign(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    document = {
        "checkpoint": payload,
        "signature": {**document["signature"], "value": base64.b64encode(signature).decode()},
    }
    default_storage.save(name, ContentFile(json.dumps(document).encode()))
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert "the signature does not verify" in report.reason
    default_storage.delete(name)
    assert verify_chain(AuditEntry).ok


# SM3 -------------------------------------------------------------------------------------------------------------


def _hmac_sm3_by_gmssl(key: bytes, data: bytes) -> str:
    """RFC 2104 HMAC over gmssl's own SM3: an implementation independent of the one the chains use."""
    block = 64
    if len(key) > block:
        key = bytes.fromhex(gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(key)))
    key = key.ljust(block, b"\0")
    inner = bytes(b ^ 0x36 for b in key) + data
    inner_digest = bytes.fromhex(gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(inner)))
    outer = bytes(b ^ 0x5C for b in key) + inner_digest
    return gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(outer))


def test_ops_06_sm3_gives_the_standards_values_and_hmac_sm3_matches_an_independent_implementation():
    # GB/T 32905-2016, appendix A
    assert chainhash.sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert (
        chainhash.sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )
    for key, data in ((b"key", b"message"), (b"k" * 80, "审计".encode() * 100)):
        assert chainhash.hmac_hex("sm3", key, data) == _hmac_sm3_by_gmssl(key, data)


def test_ops_06_sm3_chains_verify_switch_algorithm_and_detect_tampering(db, settings, enrolment):  # noqa: F811
    write_entries(2)  # hmac-sha256
    settings.CHAIN_HASH = "sm3"
    entries = write_entries(3)
    assert {e.hash_alg for e in entries} == {"hmac-sm3"}
    assert entries[0].hash == chainhash.hmac_hex(
        "sm3", django_settings.AUDIT_CHAIN_KEY.encode(), entries[0].canonical().encode()
    )
    records = write_study(enrolment, 3)
    seal_all()
    seal = RecordSeal.objects.get()
    assert seal.hash_alg == "hmac-sm3"
    lines = b"".join(
        json.dumps(
            {"id": r.pk, **{n: chainhash.plain(getattr(r, n)) for n in SOURCES["study"].fields}},
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        ).encode()
        + b"\n"
        for r in StudyRecord.objects.order_by("pk")
    )
    assert seal.digest == chainhash.sm3_hex(lines)  # the records' digest is SM3 too
    assert verify_chain(AuditEntry).ok
    assert verify_records().ok
    checkpoint_write(AuditEntry)
    call_command("verify_records")

    open_like_a_dba(AuditEntry._meta.db_table)
    raw(f"UPDATE {AuditEntry._meta.db_table} SET action = 'test.innocent' WHERE seq = %s", [entries[1].seq])
    report = verify_chain(AuditEntry)
    assert (report.ok, report.broken_seq) == (False, entries[1].seq)
    open_like_a_dba(StudyRecord._meta.db_table)
    raw(f"UPDATE {StudyRecord._meta.db_table} SET credited_seconds = 99 WHERE id = %s", [records[1].pk])
    report = verify_records()
    assert not report.ok
    assert "a record was altered" in report.problems[0]


# Rows hashed before the chains were keyed -------------------------------------------------------------------------


def append_unkeyed(record):
    """A row as the chains were written before they were keyed: plain SHA-256, no key."""
    head, _ = ChainHead.objects.get_or_create(name=record.chain_name)
    record.seq, record.prev_hash, record.hash_alg = head.seq + 1, head.hash, "sha256"
    record.hash = plain_sha256(record)
    record.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(seq=record.seq, hash=record.hash)
    return record


def unkeyed_history() -> None:
    now = timezone.now()
    for i in range(3):
        append_unkeyed(AuditEntry(at=now, action=f"old.entry{i}", result="success", detail={"i": i}))
    for i in range(2):
        append_unkeyed(
            RecordSeal(source="study", first_id=i + 1, last_id=i + 1, count=1, digest="a" * 64, sealed_at=now)
        )
    assert not verify_chain(AuditEntry).ok  # unkeyed rows without the keyed entry that bounds them
    key_the_chains(django_apps, None)
    switch = AuditEntry.objects.get(action=CHAIN_KEYED_ACTION)
    assert (switch.seq, switch.hash_alg, switch.result) == (4, "hmac-sha256", "success")
    assert switch.detail["chains"]["audit"]["seq"] == 3
    assert switch.detail["chains"]["record_seals"]["seq"] == 2
    write_entries(2)
    chain_append(RecordSeal(source="study", first_id=3, last_id=3, count=1, digest="b" * 64, sealed_at=now))


def test_ops_06_rows_hashed_before_the_chains_were_keyed_still_verify_and_the_switch_is_recorded(db):
    unkeyed_history()
    assert [e.hash_alg for e in AuditEntry.objects.order_by("seq")] == ["sha256"] * 3 + ["hmac-sha256"] * 3
    assert verify_chain(AuditEntry).ok
    assert verify_chain(RecordSeal).ok
    assert RecordSeal.objects.get(seq=3).prev_hash == RecordSeal.objects.get(seq=2).hash


@pytest.mark.parametrize(
    ("model", "first_keyed", "found_at"),
    # The audit chain's first keyed row is the entry recording where the unkeyed rows end: turned back, that
    # record is gone, and no unkeyed row is accepted at all.
    [(AuditEntry, 4, 1), (RecordSeal, 3, 3)],
    ids=["audit", "record_seals"],
)
def test_ops_06_keyed_rows_turned_back_into_plain_sha256_ones_are_found(db, model, first_keyed, found_at):
    unkeyed_history()
    rewrite(model, first_keyed, change={}, hasher=plain_sha256, alg="sha256")
    report = verify_chain(model)
    assert not report.ok
    assert report.broken_seq == found_at
    assert "unkeyed" in report.reason


def test_ops_06_an_unkeyed_row_rewritten_with_recomputed_hashes_is_found_at_the_recorded_end(db):
    unkeyed_history()
    # Without the key the attacker can recompute the unkeyed rows only; the keyed entry recorded the old end.
    rewrite(AuditEntry, 2, change={"action": "old.innocent"}, hasher=plain_sha256, alg="sha256", until=3)
    report = verify_chain(AuditEntry)
    assert not report.ok
    assert report.broken_seq == 3
    assert "recorded when the chain was keyed" in report.reason


# Metrics ---------------------------------------------------------------------------------------------------------


def test_ops_06_checkpoints_and_their_validity_are_on_metrics_for_the_alerts(db, settings):
    """AuditCheckpointStale and AuditCheckpointInvalid (deploy/prometheus/alerts.yml) read these gauges."""
    from django.test import Client
    from prometheus_client.parser import text_string_to_metric_families

    from safetrain.records.metrics import checkpoint_gauges_forget

    settings.METRICS_TOKEN = ""

    def scrape() -> dict[str, dict[str, float]]:
        checkpoint_gauges_forget()
        response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
        assert response.status_code == 200
        return {
            family.name: {sample.labels.get("chain", ""): sample.value for sample in family.samples}
            for family in text_string_to_metric_families(response.content.decode())
            if family.name.startswith("safetrain_audit_checkpoint")
        }

    write_entries(2)
    families = scrape()
    assert (
        families["safetrain_audit_checkpoint_last_timestamp_seconds"]["audit"] == 0
    )  # rows, no checkpoint yet
    assert families["safetrain_audit_checkpoint_valid"]["audit"] == 1
    assert families["safetrain_audit_checkpoint_interval_seconds"][""] == float(
        settings.CELERY_BEAT_SCHEDULE["records-checkpoint"]["schedule"]
    )
    genuine = checkpoint_write(AuditEntry)
    families = scrape()
    assert families["safetrain_audit_checkpoint_last_timestamp_seconds"]["audit"] == genuine.at.timestamp()
    # A later file with another head under the genuine signature: the newest checkpoint no longer verifies.
    with default_storage.open(genuine.name, "rb") as handle:
        document = json.loads(handle.read())
    document["checkpoint"]["hash"] = "f" * 64
    later = dt.datetime.fromisoformat(document["checkpoint"]["at"]) + dt.timedelta(minutes=1)
    document["checkpoint"]["at"] = later.isoformat()
    default_storage.save(
        f"audit-checkpoints/audit/{later:%Y-%m-%d}/{later:%H%M%S%f}-{2:012d}.json",
        ContentFile(json.dumps(document).encode()),
    )
    assert scrape()["safetrain_audit_checkpoint_valid"]["audit"] == 0
