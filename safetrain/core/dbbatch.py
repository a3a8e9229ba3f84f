"""Several writes in one database round trip, for hot paths (the study heartbeat).

On PostgreSQL Django's psycopg cursor binds parameters on the client (psycopg's ClientCursor), which accepts
several statements with parameters in one `execute`: the batch is sent as one message. Elsewhere (SQLite) the
statements run one by one. Values go through each field's own conversion (`get_db_prep_save`), as the ORM does.
Call it inside a transaction: the statements then commit or fail together.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Any

from django.db import connections, models

# Names of the statements prepared on each open PostgreSQL connection (a new connection starts with none).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_shapes: dict[tuple, tuple[str, list[models.Field]]] = {}
_names: dict[str, str] = {}


def numbered(sql: str) -> str:
    """`%s` placeholders as PostgreSQL's `$1, $2 …`, for PREPARE."""
    pieces = sql.split("%s")
    return "".join(f"{piece}${i}" for i, piece in enumerate(pieces[:-1], 1)) + pieces[-1]


def prepared_names(raw_connection: Any) -> set[str]:
    """The server-side prepared statements of this (psycopg) connection that this process created."""
    return _prepared.setdefault(raw_connection, set())


class WriteBatch:
    def __init__(self, using: str = "default") -> None:
        self.connection = connections[using]
        self.statements: list[tuple[str, list[Any]]] = []

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
            cached = _shapes[key] = (sql, fields)
        return cached

    def _params(self, fields: list[models.Field], values: Any) -> list[Any]:
        connection = self.connection
        return [
            field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
        ]

    def add(self, sql: str, params: list[Any]) -> None:
        self.statements.append((sql, params))

    def insert(self, model: type[models.Model], **values: Any) -> None:
        sql, fields = self._sql("insert", model, tuple(values))
        self.add(sql, self._params(fields, values.values()))

    def update(self, model: type[models.Model], pk: Any, **values: Any) -> None:
        sql, fields = self._sql("update", model, tuple(values))
        self.add(sql, [*self._params(fields, values.values()), pk])

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
        sql, fields = self._sql("upsert", model, tuple(values), unique, tuple(amounts))
        self.add(sql, self._params(fields, values.values()))

    def script(self, prepared: set[str] | None = None) -> tuple[str, list[Any], list[str]]:
        """The whole batch as one SQL text with its parameters, for a cursor that binds on the client.

        With `prepared` (the names already prepared on the connection, `prepared_names`), every statement runs
        as EXECUTE of a server-side prepared statement, and the ones not yet prepared are prepared in the same
        text: PostgreSQL then parses and plans each statement once per connection. Returns the names newly
        prepared, for the caller to add to the set once the text ran."""
        if prepared is None:
            sql = "; ".join(sql for sql, _ in self.statements)
            return sql, [p for _, params in self.statements for p in params], []
        parts: list[str] = []
        params: list[Any] = []
        new: list[str] = []
        for sql, values in self.statements:
            name = _names.get(sql)
            if name is None:
                name = _names[sql] = "safetrain_w_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
            if name not in prepared and name not in new:
                parts.append(f"PREPARE {name} AS {numbered(sql)}")
                new.append(name)
            parts.append(
                f"EXECUTE {name} ({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}"
            )
            params.extend(values)
        return "; ".join(parts), params, new

    def run(self) -> None:
        if not self.statements:
            return
        with self.connection.cursor() as cursor:
            client_binding = (
                self.connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is not True
            )
            if self.connection.vendor == "postgresql" and client_binding and len(self.statements) > 1:
                cursor.execute(
                    "; ".join(sql for sql, _ in self.statements),
                    [p for _, params in self.statements for p in params],
                )
            else:
                for sql, params in self.statements:
                    cursor.execute(sql, params)
        self.statements = []
