"""The hot paths' database access: SQL built once per statement shape from the models' metadata; on PostgreSQL,
run through libpq's pipeline mode, on SQLite and inside Django's transactions through Django's cursor.

On PostgreSQL, between requests (autocommit), a `HotTransaction` sends BEGIN with its first read in one round trip
and its writes with the COMMIT in a second one, through the connection's `pgconn` (core.hotpath's docstring says
why not psycopg's own pipeline). Each statement is prepared on the connection the first time it runs. Values go
through each field's `get_db_prep_save` (skipped where a stock field stores the value unchanged) and the
connection's own dumpers; read values through the connection's own loaders, then the fields' converters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import select
from collections.abc import Iterable
from functools import cache, partial
from typing import Any

import psycopg
from django.db import DatabaseError, models, transaction
from psycopg import errors, pq
from psycopg.adapt import PyFormat

Statement = tuple[str, tuple[models.Field, ...], tuple[Any, ...]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'  # (both databases quote identifiers so)


def table(model: type[models.Model]) -> str:
    """The model's table, quoted, for SQL built from the metadata."""
    return _quote(model._meta.db_table)


def column(model: type[models.Model], name: str, alias: str = "") -> str:
    """A field's column, quoted, after `alias.` when given."""
    quoted = _quote(model._meta.get_field(name).column)
    return f"{alias}.{quoted}" if alias else quoted


def _columns(model: type[models.Model], names: Iterable[str]) -> tuple[tuple[models.Field, ...], list[str]]:
    fields = tuple(model._meta.get_field(name) for name in names)
    return fields, [_quote(field.column) for field in fields]


@cache
def _insert_sql(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...]]:
    fields, columns = _columns(model, names)
    values = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(columns)}) VALUES ({values})", fields


@cache
def _update_sql(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...]]:
    fields, columns = _columns(model, names)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    table, pk = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s", (*fields, model._meta.pk)


@cache
def _add_to_sql(
    model: type[models.Model], names: tuple[str, ...], unique: tuple[str, ...], amounts: tuple[str, ...]
) -> tuple[str, tuple[models.Field, ...]]:
    insert, fields = _insert_sql(model, names)
    table = _quote(model._meta.db_table)
    conflict = ", ".join(_columns(model, unique)[1])
    additions = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _columns(model, amounts)[1])
    return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET {additions}", fields


@cache
def _upsert_sql(
    model: type[models.Model], names: tuple[str, ...], unique: tuple[str, ...], replace: tuple[str, ...]
) -> tuple[str, tuple[models.Field, ...]]:
    insert, fields = _insert_sql(model, names)
    conflict = ", ".join(_columns(model, unique)[1])
    replaced = ", ".join(f"{c} = excluded.{c}" for c in _columns(model, replace)[1])
    return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET {replaced}", fields


def upsert(
    model: type[models.Model], *, unique: tuple[str, ...], replace: tuple[str, ...], **values: Any
) -> Statement:
    """Insert a row or, when its `unique` key exists, replace the `replace` columns with the new values."""
    return (*_upsert_sql(model, tuple(values), tuple(unique), tuple(replace)), tuple(values.values()))


def insert(model: type[models.Model], **values: Any) -> Statement:
    return (*_insert_sql(model, tuple(values)), tuple(values.values()))


def update(model: type[models.Model], pk: Any, **values: Any) -> Statement:
    return (*_update_sql(model, tuple(values)), (*values.values(), pk))


def add_to(
    model: type[models.Model],
    *,
    unique: tuple[str, ...],
    key: dict[str, Any],
    amounts: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> Statement:
    """Insert a row or, when its `unique` key exists, add the `amounts` to it: one upsert."""
    values = {**key, **amounts, **(defaults or {})}
    return (*_add_to_sql(model, tuple(values), tuple(unique), tuple(amounts)), tuple(values.values()))


def combined(statements: list[Statement]) -> Statement:
    """Several INSERTs and UPDATEs of different tables as one PostgreSQL statement (the first ones as
    data-modifying WITH queries): one execution instead of several, with the same effect."""
    if len(statements) == 1:
        return statements[0]
    return (*_combined(tuple(statement[0] for statement in statements), statements), _values(statements))


_combinations: dict[tuple[str, ...], tuple[str, tuple[models.Field, ...]]] = {}


def _combined(sqls: tuple[str, ...], statements: list[Statement]) -> tuple[str, tuple[models.Field, ...]]:
    found = _combinations.get(sqls)
    if found is None:
        queries = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(sqls[:-1]))
        fields = tuple(field for statement in statements for field in statement[1])
        found = _combinations[sqls] = (f"WITH {queries} {sqls[-1]}", fields)
    return found


def _values(statements: list[Statement]) -> tuple[Any, ...]:
    values: tuple[Any, ...] = ()
    for statement in statements:
        values += statement[2]
    return values


class Column:
    """A selected column: its SQL and the field that loads its value (as the ORM would)."""

    def __init__(self, alias: str, model: type[models.Model], name: str) -> None:
        self.field = model._meta.get_field(name)
        self.sql = f"{alias}.{_quote(self.field.column)}"
        self.expression = self.field.get_col(alias)

    def loaders(self, connection: Any) -> list[Any]:
        return [*connection.ops.get_db_converters(self.expression), *self.field.get_db_converters(connection)]


class Row:
    """The values of a SELECT of `Column`s (and plain SQL expressions, loaded as the database gives them), by
    position; loaded once per connection vendor with the fields' own conversions."""

    def __init__(self, columns: list[Column | str]) -> None:
        self.columns = columns
        self.sql = ", ".join(c if isinstance(c, str) else c.sql for c in columns)
        self._loaders: dict[str, list[tuple[int, Any, list[Any]]]] = {}

    def load(self, connection: Any, row: tuple | None) -> list[Any] | None:
        if row is None:
            return None
        loaders = self._loaders.get(connection.vendor)
        if loaders is None:
            loaders = self._loaders[connection.vendor] = [
                (i, c.expression, converters)
                for i, c in enumerate(self.columns)
                if not isinstance(c, str) and (converters := c.loaders(connection))
            ]
        values = list(row)
        for index, expression, converters in loaders:
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        return values


# The value types that Django's stock fields store unchanged on PostgreSQL: their get_db_prep_save, a tenth of a
# beat's server CPU, is skipped for such values (any other field or value goes through it).
_INTEGERS = (models.AutoField, models.BigAutoField, models.IntegerField, models.BigIntegerField)
_PLAIN: dict[type, tuple[type, ...]] = {
    **dict.fromkeys(_INTEGERS, (int,)),
    **dict.fromkeys(
        (models.PositiveIntegerField, models.PositiveSmallIntegerField, models.SmallIntegerField), (int,)
    ),
    models.FloatField: (float,),
    models.CharField: (str,),
    models.TextField: (str,),
    models.BooleanField: (bool,),
    models.DateField: (dt.date,),
    models.DateTimeField: (dt.datetime,),  # (aware ones only: Django makes a naive one aware, with a warning)
}


def _plain_types(field: models.Field) -> tuple[type, ...]:
    if type(field) is models.ForeignKey:
        return _plain_types(field.target_field)
    found = _PLAIN.get(type(field))
    return (type(None), *found) if found else ()


_plains: dict[str, tuple[tuple[type, ...], ...]] = {}  # by statement: its parameters' plain types


def _params(connection: Any, statement: Statement) -> list[Any]:
    sql, fields, values = statement
    if connection.vendor != "postgresql":
        return [
            field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
        ]
    plains = _plains.get(sql)
    if plains is None:
        plains = _plains[sql] = tuple(_plain_types(field) for field in fields)
    return [
        value
        if type(value) in plain and (type(value) is not dt.datetime or value.tzinfo is not None)
        else field.get_db_prep_save(value, connection)
        for field, plain, value in zip(fields, plains, values, strict=True)
    ]


class ReadFailed(DatabaseError):
    """A read before any write failed (a dropped connection, say): nothing of the transaction was written, so the
    full stack may answer the request (it connects again)."""


@cache
def _wire_sql(sql: str) -> tuple[bytes, bytes]:
    """The statement's name on a connection and its text with libpq's `$n` placeholders."""
    pieces = sql.split("%s")
    text = "".join(f"{piece}${i}" for i, piece in enumerate(pieces[:-1], 1)) + pieces[-1]
    return b"hot_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest().encode(), text.encode()


class _Adapted:
    """Per open connection: the statements prepared on it, and its own dumpers and loaders (those Django set up)."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.prepared: set[bytes] = set()
        self.adapters, self.raw = raw.adapters, raw
        self.dumpers: dict[Any, Any] = {}
        self.loaders: dict[int, Any] = {}

    def dumper(self, value: Any) -> Any:
        """The function that dumps values of this one's type as text (psycopg's dumper, or its choice by value)."""
        kind = type(value)
        found = self.dumpers.get(kind)
        if found is None:
            dumper = self.adapters.get_dumper(kind, PyFormat.TEXT)(kind, self.raw)
            if kind is int:
                found = _int_text  # (int's dumper only picks the integer type by size: the text is the same)
            elif dumper.get_key(value, PyFormat.TEXT) is kind:
                found = dumper.dump
            else:
                found = partial(_dump_upgraded, dumper)
            self.dumpers[kind] = found
        return found

    def _loader(self, oid: int) -> Any:
        found = self.adapters.get_loader(oid, pq.Format.TEXT) or self.adapters.get_loader(0, pq.Format.TEXT)
        utc = getattr(found, "timezone", None) is dt.UTC and self.raw.info.timezone is dt.UTC
        if oid == _TIMESTAMPTZ and utc:
            # Django's loader (psycopg_any.BaseTzLoader, in Python) only sets the zone to its own; where both are
            # UTC, psycopg's own (in C) gives the same values.
            found = psycopg.adapters.get_loader(oid, pq.Format.TEXT)
        return found(oid, self.raw)

    def row(self, result: Any) -> tuple | None:
        if not result.ntuples:
            return None
        values = []
        for i in range(result.nfields):
            value = result.get_value(0, i)
            if value is not None:
                oid = result.ftype(i)
                loader = self.loaders.get(oid)
                if loader is None:
                    loader = self.loaders[oid] = self._loader(oid)
                value = loader.load(value)
            values.append(value)
        return tuple(values)


def _int_text(value: int) -> bytes:
    return b"%d" % value


def _dump_upgraded(dumper: Any, value: Any) -> bytes | None:
    return dumper.upgrade(value, PyFormat.TEXT).dump(value)


def _adapted_of(connection: Any) -> _Adapted:
    """Kept on Django's wrapper with the open connection it serves: a new connection starts afresh, and a closed
    one's adapters go with it (they hold the connection, so a weak mapping keyed by it would never let go)."""
    adapted = getattr(connection, "hot_adapted", None)
    if adapted is None or adapted.raw is not connection.connection:
        adapted = connection.hot_adapted = _Adapted(connection.connection)
    return adapted


_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid


class _Wire:
    """libpq's pipeline mode, driven through the connection's `pgconn` (psycopg.pq): statements are queued as they
    are sent and their results read at each `sync()`, one round trip. Each statement is prepared on the connection
    the first time it is sent, unless prepared statements are off (prepare_threshold None)."""

    def __init__(self, connection: Any) -> None:
        raw = connection.connection
        self.pgconn = raw.pgconn
        self.encoding = raw.info.encoding
        self.prepare = raw.prepare_threshold is not None
        self.adapted = _adapted_of(connection)
        # Per result to come: the name of a statement being prepared, or whether its row is wanted.
        self.expected: list[bytes | bool] = []
        self.answered = False  # the last sync's whole answer was read: the connection is in a known state
        self.pgconn.enter_pipeline_mode()

    def send(self, sql: str, params: Iterable[Any] = (), *, row: bool = False) -> None:
        dumper = self.adapted.dumper
        values = [None if value is None else dumper(value)(value) for value in params] or None
        name, text = _wire_sql(sql)
        if not self.prepare:
            self.pgconn.send_query_params(text, values)
        else:
            if name not in self.adapted.prepared and name not in self.expected:
                self.pgconn.send_prepare(name, text)
                self.expected.append(name)
            self.pgconn.send_query_prepared(name, values)
        self.expected.append(row)

    def sync(self) -> list[tuple | None]:
        """Send what is queued; the first row (or None) of each statement sent with `row=True`. A failed
        statement's error is raised once the whole answer is read (PostgreSQL skips the statements after it)."""
        pgconn, rows, failure = self.pgconn, [], None
        expected, self.expected, self.answered = self.expected, [], False
        pgconn.pipeline_sync()
        while pgconn.flush():  # (the connection is non-blocking: 1 means not everything was sent yet)
            _wait(pgconn, select.POLLIN | select.POLLOUT)
            pgconn.consume_input()
        for wanted in expected:
            result = _next_result(pgconn)
            if result.status in _OK:
                if isinstance(wanted, bytes):
                    self.adapted.prepared.add(wanted)
                elif wanted:
                    rows.append(self.adapted.row(result))
            elif result.status == pq.ExecStatus.PIPELINE_ABORTED:
                if wanted is True:
                    rows.append(None)
            elif failure is None:
                failure = _error(result, self.encoding)
        if _next_result(pgconn).status != pq.ExecStatus.PIPELINE_SYNC:
            raise psycopg.InterfaceError("the pipeline's answer did not end where it should")
        self.answered = True
        if failure is not None:
            raise failure
        return rows

    def close(self) -> None:
        self.pgconn.exit_pipeline_mode()


def _wait(pgconn: Any, events: int) -> None:
    # poll(), not select(): a server holding a thousand client sockets may give a database socket a descriptor
    # from 1024 up. The wait releases the GIL.
    poller = select.poll()
    poller.register(pgconn.socket, events)
    poller.poll()


def _next_result(pgconn: Any) -> Any:
    ended = False
    while True:
        while pgconn.is_busy():
            _wait(pgconn, select.POLLIN)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is not None:
            return result
        if ended:  # (one None ends each statement's results; two in a row: nothing more is coming)
            raise psycopg.InterfaceError("the pipeline's answer ended before its results")
        ended = True


def _error(result: Any, encoding: str) -> psycopg.Error:
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    try:
        kind = errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
    except KeyError:
        kind = psycopg.DatabaseError
    return kind((result.error_message or b"").decode(encoding, "replace").strip())


class HotTransaction:
    """One transaction of a hot path on a Django connection. Leaving without `commit()` rolls it back; so does an
    error, after which a pipelined connection is closed (nothing half-done is ever reused)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.committed = False
        self.writes = 0
        try:
            if connection.connection is None:
                connection.ensure_connection()
        except DatabaseError as error:
            raise ReadFailed(str(error)) from error  # (no connection: nothing can have been written)
        self.pipelined = (
            connection.vendor == "postgresql" and not connection.in_atomic_block and connection.autocommit
        )

    def __enter__(self) -> HotTransaction:
        if self.pipelined:
            try:
                with self.connection.wrap_database_errors:
                    self.wire = _Wire(self.connection)
                    self.wire.send("BEGIN")
            except DatabaseError as error:
                self.connection.close()  # (a dropped connection: nothing was sent that could be written)
                raise ReadFailed(str(error)) from error
        else:
            self._atomic = transaction.atomic(using=self.connection.alias)
            self._atomic.__enter__()
            self.cursor = self.connection.cursor()
        return self

    def fetch_one(self, sql: str, params: list[Any]) -> tuple | None:
        try:
            with self.connection.wrap_database_errors:
                if self.pipelined:
                    self.wire.send(sql, params, row=True)
                    return self.wire.sync()[-1]
                self.cursor.execute(sql, params)
                return self.cursor.fetchone()
        except DatabaseError as error:
            if self.writes:
                raise
            raise ReadFailed(str(error)) from error

    def execute(self, statement: Statement) -> None:
        self.writes += 1
        with self.connection.wrap_database_errors:
            if self.pipelined:
                self.wire.send(statement[0], _params(self.connection, statement))
            else:
                self.cursor.execute(statement[0], _params(self.connection, statement))

    def execute_all(self, statements: list[Statement]) -> None:
        """Writes to different tables, as one statement where the transaction is pipelined (PostgreSQL)."""
        if self.pipelined and statements:
            self.execute(combined(statements))
        else:
            for statement in statements:
                self.execute(statement)

    def commit(self) -> None:
        if self.pipelined:
            with self.connection.wrap_database_errors:
                self.wire.send("COMMIT")
                self.wire.sync()  # (a failed write surfaces here: its error, after the whole answer)
        self.committed = True

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if not self.pipelined:
            if kind is None and not self.committed:
                transaction.set_rollback(True, using=self.connection.alias)
            self.cursor.close()
            self._atomic.__exit__(kind, error, traceback)
            return
        if kind is not None:
            self.connection.close()  # whatever failed, the next request starts on a fresh connection
            return
        try:
            with self.connection.wrap_database_errors:
                if not self.committed:
                    self.wire.send("ROLLBACK")
                    self.wire.sync()
                self.wire.close()
        except BaseException:
            self.connection.close()
            raise


def run(connection: Any, statements: Iterable[Statement]) -> None:
    """The statements in the caller's transaction (Django's), in one round trip on PostgreSQL."""
    statements = list(statements)
    if not statements:
        return
    if connection.vendor == "postgresql":
        raw = connection.connection
        with connection.wrap_database_errors:
            wire = None
            try:
                wire = _Wire(connection)
                if not raw.autocommit and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
                    wire.send("BEGIN")  # (as psycopg before a transaction's first statement)
                for statement in statements:
                    wire.send(statement[0], _params(connection, statement))
                wire.sync()
            except BaseException:
                if wire is None or not wire.answered:
                    connection.close()  # (half a pipeline: this connection cannot be trusted any more)
                    raise
                wire.close()  # (a statement failed, the whole answer read: the caller's transaction is failed)
                raise
            wire.close()
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement[0], _params(connection, statement))
