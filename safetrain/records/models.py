"""Append-only, hash-chained records: the audit trail (操作日志, REC-03) now, study and exam records later (REC-04).

A chained model is append-only: the model refuses updates and deletes, its QuerySet refuses bulk update and
delete, and database triggers (SQLite and PostgreSQL, created by `append_only_sql`) refuse both in SQL. Each row
carries a keyed hash (HMAC-SHA256 or HMAC-SM3 under AUDIT_CHAIN_KEY, `safetrain.core.chainhash`) of its own content
and of the previous row's hash, and the chain's head (last seq and hash) is kept in `ChainHead`, so an edited,
removed, inserted or cut-off row is found by `verify_chain` (`manage.py verify_audit_chain`), and signed
checkpoints of each head kept outside the database (`records.checkpoints`) catch a chain rewritten or cut off by
someone who holds the key as well.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.core import chainhash
from safetrain.records.actions import action_label

GENESIS_HASH = "0" * 64
# The audit entry written when the chains were first keyed: it records, under the key, where each chain's unkeyed
# rows end (records/migrations/0006_key_the_chains.py).
CHAIN_KEYED_ACTION = "records.chain_keyed"


class AppendOnlyError(RuntimeError):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only")


ChainedQuerySet = AppendOnlyQuerySet


class AppendOnlyRecord(models.Model):
    """Rows that are written once and never changed or removed (pair with `dbtriggers.forbid_changes`)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self._meta.label} rows are append-only")


class ChainedRecord(AppendOnlyRecord):
    """Base for append-only rows in one hash chain per concrete model."""

    chain_name: ClassVar[str]
    hashed_fields: ClassVar[tuple[str, ...]]

    seq = models.BigIntegerField(_("sequence"), unique=True)
    prev_hash = models.CharField(max_length=64, verbose_name=_("previous hash"))
    hash = models.CharField(max_length=64, unique=True, verbose_name=_("hash"))
    # sha256 (unkeyed, rows written before the chains were keyed), hmac-sha256 or hmac-sm3: see core.chainhash.
    hash_alg = models.CharField(_("hash algorithm"), max_length=16)

    class Meta:
        abstract = True

    def canonical(self) -> str:
        """The exact text the row's hash covers: its sequence, its fields and the previous hash (and, keyed, the
        chain's name and the algorithm)."""
        return chainhash.chain_text(
            chain=self.chain_name,
            alg=self.hash_alg,
            seq=self.seq,
            values=[getattr(self, name) for name in self.hashed_fields],
            prev_hash=self.prev_hash,
        )

    def compute_hash(self) -> str:
        return chainhash.row_hash(self.hash_alg, self.canonical())

    @property
    def is_keyed(self) -> bool:
        return self.hash_alg in chainhash.KEYED


class ChainHead(models.Model):
    """The last sequence number and hash of each chain. Its row is locked while appending, so appends are
    serialised and a cut-off tail is detected."""

    name = models.CharField(max_length=60, unique=True, verbose_name=_("chain"))
    seq = models.BigIntegerField(default=0, verbose_name=_("last sequence"))
    hash = models.CharField(max_length=64, default=GENESIS_HASH, verbose_name=_("last hash"))

    class Meta:
        verbose_name = _("chain head")
        verbose_name_plural = _("chain heads")

    def __str__(self) -> str:
        return f"{self.name}@{self.seq}"


class AuditEntryQuerySet(ChainedQuerySet):
    def visible_to(self, user: Any) -> AuditEntryQuerySet:
        """Scoped by the organisation each entry belongs to; the user object knows what it may see."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_everything():
            return self
        from safetrain.orgs.models import Organisation  # records sit below orgs; imported when used

        return self.filter(organisation_id__in=Organisation.objects.supervised_by(user).values("id"))


class AuditResult(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    DENIED = "denied", _("Denied")


class AuditEntry(ChainedRecord):
    chain_name = "audit"
    hashed_fields = (
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
    )

    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(_("user label"), max_length=120, blank=True)
    organisation_id = models.BigIntegerField(_("organisation"), null=True, blank=True, db_index=True)
    ip = models.CharField(_("IP address"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    result = models.CharField(_("result"), max_length=16, choices=AuditResult.choices)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.result}"

    @property
    def action_label(self) -> str:
        return action_label(self.action)

    @property
    def object_label(self) -> str:
        """The object's kind by its verbose name (用户, 证书 …), never the raw `app.model` code."""
        return object_type_label(self.object_type)


def object_type_label(object_type: str) -> str:
    if not object_type:
        return ""
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return str(_("Other"))


class RecordSeal(ChainedRecord):
    """A seal over a run of study or exam records (REC-04): the SHA-256 (or SM3, as its `hash_alg` says) of their
    content in id order, chained to the seal before it. Records are written at full speed without a chain lock (a heartbeat must not wait for one);
    the sealing job (every minute) seals what was written since, so an edited, removed or inserted record is found
    by `manage.py verify_records`, online or in its offline archive file."""

    chain_name = "record_seals"
    hashed_fields = ("source", "first_id", "last_id", "count", "digest", "sealed_at")

    source = models.CharField(max_length=20, verbose_name=_("record source"))
    first_id = models.BigIntegerField(verbose_name=_("first record id"))
    last_id = models.BigIntegerField(verbose_name=_("last record id"))
    count = models.PositiveIntegerField(verbose_name=_("records"))
    digest = models.CharField(max_length=64, verbose_name=_("digest"))
    sealed_at = models.DateTimeField(verbose_name=_("sealed at"))

    objects = ChainedQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["source", "last_id"], name="record_seal_source_last")]
        verbose_name = _("record seal")
        verbose_name_plural = _("record seals")

    def __str__(self) -> str:
        return f"{self.source} {self.first_id}-{self.last_id}"


class ArchiveFile(AppendOnlyRecord):
    """An offline archive of records moved out of the database after their online retention (REC-02): a gzip of
    JSON lines in storage, its SHA-256, the seals it holds, and how long it must be kept."""

    source = models.CharField(max_length=20, verbose_name=_("record source"))
    name = models.CharField(max_length=200, unique=True, verbose_name=_("file name"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    rows = models.PositiveIntegerField(verbose_name=_("records"))
    first_id = models.BigIntegerField(verbose_name=_("first record id"))
    last_id = models.BigIntegerField(verbose_name=_("last record id"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    keep_until = models.DateField(verbose_name=_("keep until"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["source", "first_id"]
        verbose_name = _("archive file")
        verbose_name_plural = _("archive files")

    def __str__(self) -> str:
        return self.name


class RetentionGate(models.Model):
    """Present only inside the retention job's transaction: the database triggers let that transaction delete
    archived records of `table_name`, and nobody else."""

    table_name = models.CharField(max_length=60, verbose_name=_("table"))

    class Meta:
        verbose_name = _("retention gate")
        verbose_name_plural = _("retention gates")

    def __str__(self) -> str:
        return self.table_name
