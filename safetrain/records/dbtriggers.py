"""SQL triggers that make a table append-only in the database itself (REC-04): even a raw UPDATE or DELETE
through the application's database connection fails."""

from __future__ import annotations

from typing import Any


def forbid_changes(table: str) -> Any:
    """A migration operation installing the triggers on SQLite or PostgreSQL."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        for statement in _sql(vendor, table):
            schema_editor.execute(statement, params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
        elif vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_update"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_delete"')

    return migrations.RunPython(forwards, backwards)


def _sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [
            """
            CREATE OR REPLACE FUNCTION safetrain_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """,
            f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION safetrain_append_only()",
        ]
    if vendor == "sqlite":
        return [
            f'CREATE TRIGGER "{table}_no_update" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE refused'); END",
            f'CREATE TRIGGER "{table}_no_delete" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END",
        ]
    return []


def disable_for_test_sql(vendor: str, table: str) -> list[str]:
    """What a database administrator would run to tamper with a row: used by tests that prove detection."""
    if vendor == "postgresql":
        return [f'ALTER TABLE "{table}" DISABLE TRIGGER "{table}_append_only"']
    return [f'DROP TRIGGER IF EXISTS "{table}_no_update"', f'DROP TRIGGER IF EXISTS "{table}_no_delete"']
