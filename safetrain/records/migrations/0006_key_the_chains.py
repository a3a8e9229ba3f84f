"""The chains become keyed (HMAC under AUDIT_CHAIN_KEY). History is not rewritten: the rows already there keep their
plain SHA-256 hashes and verify as before. Each chain is checked first, and one keyed audit entry,
`records.chain_keyed`, records where each chain's unkeyed rows end (last seq and hash) and whether they verified.
Being keyed, that entry cannot be forged or moved without the key; `verify_chain` accepts unkeyed rows only up to
the ends it records, so keyed rows turned back into recomputed plain SHA-256 ones are found. A new installation has
no unkeyed rows, and no such entry."""

from django.db import migrations
from django.utils import timezone

from safetrain.core import chainhash

GENESIS_HASH = "0" * 64
# The hashed fields as they were when the chains were keyed (the models may change later; this must not).
CHAINS = {
    "audit": (
        "records.AuditEntry",
        (
            "at",
            "actor_id",
            "actor_label",
            "organisation_id",
            "ip",
            "user_agent",
            "action",
            "object_type",
            "object_id",
            "result",
            "detail",
        ),
    ),
    "record_seals": (
        "records.RecordSeal",
        ("source", "first_id", "last_id", "count", "digest", "sealed_at"),
    ),
}


def _text(chain, alg, row, fields):
    return chainhash.chain_text(
        chain=chain,
        alg=alg,
        seq=row.seq,
        values=[getattr(row, name) for name in fields],
        prev_hash=row.prev_hash,
    )


def _verify_unkeyed(model, chain, fields):
    prev_hash, expected, reason = GENESIS_HASH, 1, ""
    for row in model.objects.order_by("seq").iterator(chunk_size=2000):
        if row.seq != expected:
            reason = f"row {expected} is missing"
        elif row.prev_hash != prev_hash:
            reason = f"row {row.seq}: previous-hash link does not match"
        elif chainhash.row_hash(chainhash.LEGACY, _text(chain, chainhash.LEGACY, row, fields)) != row.hash:
            reason = f"row {row.seq}: content does not match its hash"
        if reason:
            break
        prev_hash, expected = row.hash, expected + 1
    return reason


def key_the_chains(apps, schema_editor):
    ChainHead = apps.get_model("records", "ChainHead")
    ends = {}
    for chain, (label, fields) in CHAINS.items():
        model = apps.get_model(label)
        head = ChainHead.objects.filter(name=chain).first()
        if head is None or head.seq == 0:
            continue
        reason = _verify_unkeyed(model, chain, fields)
        ends[chain] = {"seq": head.seq, "hash": head.hash, "verified": not reason}
        if reason:
            ends[chain]["problem"] = reason
    if not ends:
        return  # a new installation: every row will be keyed
    ends.setdefault("audit", {"seq": 0, "hash": GENESIS_HASH, "verified": True})
    AuditEntry = apps.get_model("records", "AuditEntry")
    head, _ = ChainHead.objects.get_or_create(name="audit")
    alg = chainhash.written_alg()
    entry = AuditEntry(
        seq=head.seq + 1,
        prev_hash=head.hash,
        hash_alg=alg,
        at=timezone.now(),
        actor_id=None,
        actor_label="",
        organisation_id=None,
        ip="",
        user_agent="",
        action="records.chain_keyed",
        object_type="records.chainhead",
        object_id="",
        result="success" if all(end["verified"] for end in ends.values()) else "failure",
        detail={"alg": alg, "chains": ends},
    )
    entry.hash = chainhash.row_hash(alg, _text("audit", alg, entry, CHAINS["audit"][1]))
    entry.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(seq=entry.seq, hash=entry.hash)


class Migration(migrations.Migration):
    dependencies = [("records", "0005_chain_hash_alg")]

    operations = [migrations.RunPython(key_the_chains, migrations.RunPython.noop)]
