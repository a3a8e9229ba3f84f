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
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"', params=None)
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"', params=None)
        elif vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_update"', params=None)
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_delete"', params=None)

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
            f'CREATE OR REPLACE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION safetrain_append_only()",
        ]
    if vendor == "sqlite":
        return [
            f'CREATE TRIGGER "{table}_no_update" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE refused'); END",
            f'CREATE TRIGGER "{table}_no_delete" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END",
        ]
    return []


def reinstall_after_rebuild(table: str, source: str | None = "study") -> Any:
    """A migration operation for after an operation that makes SQLite rebuild `table` (most column and
    constraint changes do: a new table, the rows copied, the old one dropped with its triggers): the triggers of
    `forbid_changes` and, for records of a retention `source`, `forbid_changes_except_retention` are put back.
    PostgreSQL alters the table in place and keeps its triggers, so nothing is done there."""
    from django.db import migrations

    retained = forbid_changes_except_retention(table, source) if source else None

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        for statement in _sql("sqlite", table):
            name = statement.split('"')[1]
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"', params=None)
            schema_editor.execute(statement, params=None)
        if retained is not None:
            retained.code(apps, schema_editor)

    return migrations.RunPython(forwards, migrations.RunPython.noop)


def guard_chain_heads() -> Any:
    """A chain head may only move forward one row at a time and never be deleted: resetting it to hide a
    truncated chain fails in the database."""
    from django.db import migrations

    table = "records_chainhead"

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            statements = [
                """
                CREATE OR REPLACE FUNCTION safetrain_chain_head_forward() RETURNS trigger AS $$
                BEGIN
                    IF TG_OP = 'DELETE' OR NEW.seq <> OLD.seq + 1 OR NEW.name <> OLD.name THEN
                        RAISE EXCEPTION 'append-only chain head %: % refused', OLD.name, TG_OP;
                    END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql
                """,
                f'CREATE TRIGGER "{table}_forward_only" BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION safetrain_chain_head_forward()",
                f'CREATE OR REPLACE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}" '
                "FOR EACH STATEMENT EXECUTE FUNCTION safetrain_append_only()",
            ]
        elif vendor == "sqlite":
            statements = [
                f'CREATE TRIGGER "{table}_forward_only" BEFORE UPDATE ON "{table}" '
                "WHEN NEW.seq <> OLD.seq + 1 OR NEW.name <> OLD.name "
                "BEGIN SELECT RAISE(ABORT, 'append-only chain head: UPDATE refused'); END",
                f'CREATE TRIGGER "{table}_no_delete" BEFORE DELETE ON "{table}" '
                "BEGIN SELECT RAISE(ABORT, 'append-only chain head: DELETE refused'); END",
            ]
        else:
            statements = []
        for statement in statements:
            schema_editor.execute(statement, params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        for name in ("forward_only", "no_truncate", "no_delete"):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_{name}" ON "{table}"', params=None)
            else:
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_{name}"', params=None)

    return migrations.RunPython(forwards, backwards)


def disable_for_test_sql(vendor: str, table: str) -> list[str]:
    """What a database administrator would run to tamper with a row: used by tests that prove detection."""
    if vendor == "postgresql":
        return [f'ALTER TABLE "{table}" DISABLE TRIGGER USER']
    return [f'DROP TRIGGER IF EXISTS "{table}_{name}"' for name in ("no_update", "no_delete", "forward_only")]


def forbid_changes_except_retention(table: str, source: str = "study") -> Any:
    """Like `forbid_changes`, but a DELETE is let through inside the retention job's transaction (a
    `records_retentiongate` row for this table exists only there), and only for a row inside the id range of an
    archive file of `source` (written in that transaction before the delete)."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            statements = [
                """
                CREATE OR REPLACE FUNCTION safetrain_append_only_retained() RETURNS trigger AS $$
                BEGIN
                    IF TG_OP = 'DELETE' AND EXISTS (
                        SELECT 1 FROM records_retentiongate g WHERE g.table_name = TG_TABLE_NAME
                    ) AND EXISTS (
                        SELECT 1 FROM records_archivefile a
                        WHERE a.source = TG_ARGV[0] AND a.first_id <= OLD.id AND OLD.id <= a.last_id
                    ) THEN
                        RETURN OLD;
                    END IF;
                    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP;
                END;
                $$ LANGUAGE plpgsql
                """,
                f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"',
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION safetrain_append_only_retained('{source}')",
            ]
        elif vendor == "sqlite":
            statements = [
                f'DROP TRIGGER IF EXISTS "{table}_no_delete"',
                f'CREATE TRIGGER "{table}_no_delete" BEFORE DELETE ON "{table}" '
                f"WHEN NOT EXISTS (SELECT 1 FROM records_retentiongate WHERE table_name = '{table}') "
                f"OR NOT EXISTS (SELECT 1 FROM records_archivefile WHERE source = '{source}' "
                "AND first_id <= OLD.id AND OLD.id <= last_id) "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END",
            ]
        else:
            statements = []
        for statement in statements:
            schema_editor.execute(statement, params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        for statement in _sql(schema_editor.connection.vendor, table):
            if "FUNCTION safetrain_append_only()" in statement:
                schema_editor.execute(statement, params=None)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"', params=None)
            schema_editor.execute(
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION safetrain_append_only()",
                params=None,
            )
        elif schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_delete"', params=None)
            schema_editor.execute(
                f'CREATE TRIGGER "{table}_no_delete" BEFORE DELETE ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END",
                params=None,
            )

    return migrations.RunPython(forwards, backwards)
