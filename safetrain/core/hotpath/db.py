"""The hot paths' database access: SQL built once per statement shape from the models' own metadata, run through
psycopg 3's pipeline mode and its automatic prepared statements on PostgreSQL, through Django's cursor elsewhere.

On PostgreSQL, between requests (autocommit), a `HotTransaction` sends BEGIN with its first read in one round trip
and its writes with the COMMIT in a second one (`Connection.pipeline()`); statements go through a server-binding
`psycopg.Cursor`, which prepares each after `prepare_threshold` executions (`DATABASES["default"]["OPTIONS"]`).
Inside Django's transaction handling (the API's requests, tests, SQLite) it is an ordinary `transaction.atomic()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import psycopg
from django.db import DatabaseError, models, transaction

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
    *first, last = statements
    if not first:
        return last
    queries = ", ".join(f"w{i} AS ({statement[0]})" for i, statement in enumerate(first))
    return (
        f"WITH {queries} {last[0]}",
        tuple(f for statement in statements for f in statement[1]),
        tuple(v for statement in statements for v in statement[2]),
    )


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


def _params(connection: Any, statement: Statement) -> list[Any]:
    _sql, fields, values = statement
    return [field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)]


class ReadFailed(DatabaseError):
    """A read before any write failed (a dropped connection, say): nothing of the transaction was written, so the
    full stack may answer the request (it connects again)."""


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
            raw = self.connection.connection
            try:
                with self.connection.wrap_database_errors:
                    self._pipeline = raw.pipeline()
                    self._pipeline.__enter__()
                    self.cursor = psycopg.Cursor(
                        raw
                    )  # server-side binding: prepared after prepare_threshold runs
                    self.cursor.execute("BEGIN")
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
                self.cursor.execute(sql, params)
                return self.cursor.fetchone()
        except DatabaseError as error:
            if self.writes:
                raise
            raise ReadFailed(str(error)) from error

    def execute(self, statement: Statement) -> None:
        self.writes += 1
        with self.connection.wrap_database_errors:
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
            # (a failed write may surface here: pipeline mode reports results as they arrive)
            with self.connection.wrap_database_errors:
                self.cursor.execute("COMMIT")
        self.committed = True

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if not self.pipelined:
            if kind is None and not self.committed:
                transaction.set_rollback(True, using=self.connection.alias)
            self.cursor.close()
            self._atomic.__exit__(kind, error, traceback)
            return
        try:
            with self.connection.wrap_database_errors:
                if kind is None and not self.committed:
                    self.cursor.execute("ROLLBACK")
                self._pipeline.__exit__(kind, error, traceback)  # sends and waits for what is queued
        except BaseException:
            self.connection.close()
            raise
        if kind is not None:
            self.connection.close()  # whatever failed, the next request starts on a fresh connection


def run(connection: Any, statements: Iterable[Statement]) -> None:
    """The statements in the caller's transaction (Django's), in one round trip on PostgreSQL."""
    statements = list(statements)
    if not statements:
        return
    if connection.vendor == "postgresql":
        raw = connection.connection
        with connection.wrap_database_errors, raw.pipeline(), psycopg.Cursor(raw) as cursor:
            for statement in statements:
                cursor.execute(statement[0], _params(connection, statement))
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement[0], _params(connection, statement))
