"""Several writes in one database round trip, for hot paths (the study heartbeat).

On PostgreSQL the batch is one pipeline (core.pgpipe): every statement in one message, each prepared once per
connection (unless DB_PREPARED_STATEMENTS is off), the values apart from the SQL. Elsewhere (SQLite) the
statements run one by one through Django's cursor. Values go through each field's own conversion
(`get_db_prep_save`), as the ORM does, except where that is known to change nothing (below) and, on PostgreSQL, a
plain JSON value, sent as the JSON text orjson writes of it (the same jsonb). Call it inside a transaction: the
statements then commit or fail together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, models

from safetrain.core import pgpipe

# Values that go to the database as they are in fields of these (exact) classes: what get_db_prep_save would
# return for them unchanged (and None). Everything else (JSON, dates and times, custom fields) takes the field's
# conversion.
_INTEGERS = (int,)
_AS_IS: dict[type[models.Field], tuple[type, ...]] = {
    models.AutoField: _INTEGERS,
    models.BigAutoField: _INTEGERS,
    models.IntegerField: _INTEGERS,
    models.BigIntegerField: _INTEGERS,
    models.SmallIntegerField: _INTEGERS,
    models.PositiveIntegerField: _INTEGERS,
    models.PositiveSmallIntegerField: _INTEGERS,
    models.FloatField: (float,),
    models.BooleanField: (bool,),
    models.CharField: (str,),
    models.TextField: (str,),
    models.ForeignKey: _INTEGERS,  # (a key of another type is converted: its values are not ints)
}
# On PostgreSQL an aware datetime goes as it is too (the backend adapts it unchanged; a naive one is converted, with
# the field's warning). None goes as it is in every field above.
_AWARE = (dt.datetime,)
_AS_IS_POSTGRESQL = {**_AS_IS, models.DateTimeField: _AWARE}

_INT64 = range(-(2**63), 2**63)


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Whether the value is built only of lists, dicts with str keys, str, bool, None, 64-bit ints and finite
    floats: what json.dumps and orjson write alike (the same values, to the same jsonb). Anything else (a tuple, a
    NaN, a date, a UUID, a key that is not a str, a bigger int) is written by Django's own conversion."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return value in _INT64
    if depth >= 32:
        return False
    if kind is list:
        return all(_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(key) is str and _plain_json(item, depth + 1) for key, item in value.items())
    return False


def _json_param(field: models.JSONField, value: Any, connection: Any) -> Any:
    """A JSON field's value for PostgreSQL: a plain value as the JSON text orjson writes of it, for the jsonb column
    to parse (a fraction of the time of Django's json.dumps behind psycopg's Jsonb wrapper; PostgreSQL stores the
    same value); anything else, and what orjson refuses (a str holding surrogates, which json.dumps escapes),
    through Django's own conversion."""
    if field.encoder is None and value is not None and _plain_json(value):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            pass
    return field.get_db_prep_save(value, connection)


_ASYNCHRONOUS = "SET LOCAL synchronous_commit TO OFF"

# statement shape -> (SQL with %s, the fields of its values, SQL with $n, its prepared statement's name)
_shapes: dict[tuple, tuple[str, list[models.Field], str, str]] = {}


def ensure_open(connection: Any) -> Any:
    """connection.ensure_connection(), without Django's check for a running event loop once the connection is open
    (hot paths run in WSGI threads, which have none; the check still runs when the connection has to be opened).
    Returns the connection."""
    if connection.connection is None:
        connection.ensure_connection()
    return connection


class WriteBatch:
    def __init__(self, using: str = "default", *, connection: Any = None) -> None:
        self.connection = connections[using] if connection is None else connection
        # (statement shape, its values)
        self.statements: list[tuple[tuple[str, list[models.Field], str, str], list[Any]]] = []

    def _quote(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def _sql(
        self,
        kind: str,
        model: type[models.Model],
        names: tuple[str, ...],
        unique: tuple[str, ...] = (),
        amounts: tuple[str, ...] = (),
    ):
        """The statement text and the fields of its values, built once per shape (hot paths repeat shapes)."""
        key = (self.connection.vendor, kind, model, names, unique, amounts)
        cached = _shapes.get(key)
        if cached is None:
            fields = [model._meta.get_field(name) for name in names]
            columns = [self._quote(field.column) for field in fields]
            table = self._quote(model._meta.db_table)
            placeholders = ", ".join(["%s"] * len(columns))
            if kind == "insert":
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            elif kind == "update":
                assignments = ", ".join(f"{column} = %s" for column in columns)
                sql = f"UPDATE {table} SET {assignments} WHERE {self._quote(model._meta.pk.column)} = %s"
            else:  # upsert: on a conflict of the `unique` columns, add the `amounts`
                conflict = ", ".join(self._quote(model._meta.get_field(n).column) for n in unique)
                additions = ", ".join(
                    f"{c} = {table}.{c} + excluded.{c}"
                    for c in (self._quote(model._meta.get_field(n).column) for n in amounts)
                )
                sql = (
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
                    f"ON CONFLICT ({conflict}) DO UPDATE SET {additions}"
                )
            name = "safetrain_w_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
            cached = _shapes[key] = (sql, fields, pgpipe.numbered(sql), name)
        return cached

    def _params(self, fields: list[models.Field], values: Any) -> list[Any]:
        connection = self.connection
        as_is = _AS_IS_POSTGRESQL if connection.vendor == "postgresql" else _AS_IS
        params = []
        for field, value in zip(fields, values, strict=True):
            kinds = as_is.get(type(field))
            if kinds is None and type(field) is models.JSONField and as_is is _AS_IS_POSTGRESQL:
                value = _json_param(field, value, connection)
            elif kinds is None or (
                value is not None and (type(value) not in kinds or (kinds is _AWARE and value.tzinfo is None))
            ):
                value = field.get_db_prep_save(value, connection)
            params.append(value)
        return params

    def _add(self, shape: tuple[str, list[models.Field], str, str], params: list[Any]) -> None:
        self.statements.append((shape, params))

    def insert(self, model: type[models.Model], **values: Any) -> None:
        shape = self._sql("insert", model, tuple(values))
        self._add(shape, self._params(shape[1], values.values()))

    def update(self, model: type[models.Model], pk: Any, **values: Any) -> None:
        shape = self._sql("update", model, tuple(values))
        self._add(shape, [*self._params(shape[1], values.values()), pk])

    def add_to(
        self,
        model: type[models.Model],
        *,
        unique: tuple[str, ...],
        key: dict[str, Any],
        amounts: dict[str, float],
        defaults: dict[str, Any] | None = None,
    ) -> None:
        """Insert a row or, when its unique key exists, add the amounts to it (one upsert statement)."""
        values = {**key, **amounts, **(defaults or {})}
        shape = self._sql("upsert", model, tuple(values), unique, tuple(amounts))
        self._add(shape, self._params(shape[1], values.values()))

    def run(self, *, commit: bool = False, wait_for_flush: bool = True) -> None:
        """Run the batch. `commit=True` (PostgreSQL only, outside Django's transaction handling) also commits the
        transaction the caller opened, in the same round trip.

        `wait_for_flush=False` (PostgreSQL) commits the whole transaction asynchronously (`SET LOCAL
        synchronous_commit TO OFF`): the commit returns before its WAL reaches the disk, which PostgreSQL then
        writes within three `wal_writer_delay`s. A crash of the database server in that window loses the whole
        transaction, never a part of it; nothing else changes (locks, visibility, constraints, the order of
        commits, and every later synchronous commit flushes it with its own)."""
        connection = self.connection
        if connection.vendor == "postgresql":
            statements = [pgpipe.Statement(shape[2], params, shape[3]) for shape, params in self.statements]
            if statements and not wait_for_flush:
                statements.insert(
                    0, pgpipe.Statement(_ASYNCHRONOUS, name="safetrain_async_commit", row=False)
                )
            if commit:
                statements.append(pgpipe.Statement("COMMIT"))
            if statements:
                ensure_open(connection)
                with connection.wrap_database_errors:
                    pgpipe.run(connection.connection, statements, prepare=settings.DB_PREPARED_STATEMENTS)
        elif self.statements:
            if commit:
                raise ValueError("commit=True is for PostgreSQL")
            with connection.cursor() as cursor:
                for shape, params in self.statements:
                    cursor.execute(shape[0], params)
        self.statements = []
