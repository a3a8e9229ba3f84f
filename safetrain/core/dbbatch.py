"""Several writes in one database round trip, for hot paths (the study heartbeat).

On PostgreSQL Django's psycopg cursor binds parameters on the client (psycopg's ClientCursor), which accepts
several statements with parameters in one `execute`: the batch is sent as one message. Elsewhere (SQLite) the
statements run one by one. Values go through each field's own conversion (`get_db_prep_save`), as the ORM does.
Call it inside a transaction: the statements then commit or fail together.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models


class WriteBatch:
    def __init__(self, using: str = "default") -> None:
        self.connection = connections[using]
        self.statements: list[tuple[str, list[Any]]] = []

    def _quote(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def _columns(self, model: type[models.Model], values: dict[str, Any]) -> tuple[list[str], list[Any]]:
        columns, params = [], []
        for name, value in values.items():
            field = model._meta.get_field(name)
            columns.append(self._quote(field.column))
            params.append(field.get_db_prep_save(value, self.connection))
        return columns, params

    def add(self, sql: str, params: list[Any]) -> None:
        self.statements.append((sql, params))

    def insert(self, model: type[models.Model], **values: Any) -> None:
        columns, params = self._columns(model, values)
        table = self._quote(model._meta.db_table)
        placeholders = ", ".join(["%s"] * len(columns))
        self.add(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", params)

    def update(self, model: type[models.Model], pk: Any, **values: Any) -> None:
        columns, params = self._columns(model, values)
        table = self._quote(model._meta.db_table)
        assignments = ", ".join(f"{column} = %s" for column in columns)
        self.add(
            f"UPDATE {table} SET {assignments} WHERE {self._quote(model._meta.pk.column)} = %s", [*params, pk]
        )

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
        columns, params = self._columns(model, {**key, **amounts, **(defaults or {})})
        table = self._quote(model._meta.db_table)
        conflict = ", ".join(self._quote(model._meta.get_field(name).column) for name in unique)
        additions = ", ".join(
            f"{c} = {table}.{c} + excluded.{c}"
            for c in (self._quote(model._meta.get_field(name).column) for name in amounts)
        )
        placeholders = ", ".join(["%s"] * len(columns))
        self.add(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {additions}",
            params,
        )

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
