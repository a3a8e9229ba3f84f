"""The catalogue-version triggers as migrations 0009, 0010 and 0013 made and dropped them; kept only for those
migrations (the leading underscore keeps Django's migration loader away from this module).

Triggers on the catalogue tables gave the one catalog_catalogueversion row a new number whenever one of their rows
changed (a sequence on PostgreSQL, random() on SQLite); 0013 dropped them with the model.
"""

from __future__ import annotations

from typing import Any

TABLE = "catalog_catalogueversion"
SEQUENCE = "catalog_catalogueversion_number"
# A new number, as the triggers draw it.
_NEXT = {"postgresql": f"nextval('\"{SEQUENCE}\"')", "sqlite": "random()"}


def install_triggers(watched: dict[str, tuple[str, ...]]) -> Any:
    """A migration operation: the version row, and triggers on each table of `watched` (table -> the columns whose
    change alone does not change the version), with the columns as that migration's models have them. The tables
    are the migration's own, so a table watched later takes a migration of its own."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        for statement in _trigger_sql(apps, schema_editor.connection.vendor, watched):
            schema_editor.execute(statement, params=None)
        seed(schema_editor.connection)

    def backwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        _drop_triggers(schema_editor, watched)
        if vendor == "postgresql":
            schema_editor.execute("DROP FUNCTION IF EXISTS safetrain_catalogue_changed()", params=None)

    return migrations.RunPython(forwards, backwards)


def remove_triggers(watched: dict[str, tuple[str, ...]]) -> Any:
    """A migration operation: the triggers of `watched` dropped, with the PostgreSQL function and sequence they
    used; reversed, they are made again as that migration's models have the columns (and the row seeded)."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        _drop_triggers(schema_editor, watched)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP FUNCTION IF EXISTS safetrain_catalogue_changed()", params=None)
            schema_editor.execute(f'DROP SEQUENCE IF EXISTS "{SEQUENCE}"', params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        for statement in _trigger_sql(apps, schema_editor.connection.vendor, watched):
            schema_editor.execute(statement, params=None)
        seed(schema_editor.connection)

    return migrations.RunPython(forwards, backwards)


def _drop_triggers(schema_editor: Any, watched: dict[str, tuple[str, ...]]) -> None:
    vendor = schema_editor.connection.vendor
    for table in watched:
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_version" ON "{table}"', params=None)
        elif vendor == "sqlite":
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_version_{event}"', params=None)


def restore_triggers(watched: dict[str, tuple[str, ...]]) -> Any:
    """A migration operation after a change to watched tables (as `install_triggers` takes them): their triggers
    made again as that migration's models have the columns (SQLite drops a table's triggers when a migration
    rebuilds the table; a column list must name a new column)."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        _drop_triggers(schema_editor, watched)
        for statement in _trigger_sql(apps, schema_editor.connection.vendor, watched):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, migrations.RunPython.noop)


def _update_event(apps: Any, table: str, ignored: tuple[str, ...]) -> str:
    if not ignored:
        return "UPDATE"
    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    return f"UPDATE OF {', '.join(f.column for f in model._meta.concrete_fields if f.column not in ignored)}"


def _trigger_sql(apps: Any, vendor: str, watched: dict[str, tuple[str, ...]]) -> list[str]:
    if vendor == "postgresql":
        statements = [
            f'CREATE SEQUENCE IF NOT EXISTS "{SEQUENCE}"',
            f"""
            CREATE OR REPLACE FUNCTION safetrain_catalogue_changed() RETURNS trigger AS $$
            BEGIN
                UPDATE "{TABLE}" SET number = {_NEXT["postgresql"]} WHERE id = 1;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """,
        ]
        for table, ignored in watched.items():
            statements.append(
                f'CREATE TRIGGER "{table}_version" BEFORE INSERT OR {_update_event(apps, table, ignored)} '
                f'OR DELETE OR TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION safetrain_catalogue_changed()'
            )
        return statements
    if vendor == "sqlite":
        bump = f'UPDATE "{TABLE}" SET number = {_NEXT["sqlite"]} WHERE id = 1;'
        return [
            f'CREATE TRIGGER "{table}_version_{name}" AFTER {event} ON "{table}" BEGIN {bump} END'
            for table, ignored in watched.items()
            for event, name in (
                ("INSERT", "insert"),
                (_update_event(apps, table, ignored), "update"),
                ("DELETE", "delete"),
            )
        ]
    return []


def seed(connection: Any) -> None:
    """The version row, if it is missing, with a first number drawn as the triggers draw every later one (so the
    first change cannot be given the number the row started with)."""
    if connection.vendor not in _NEXT:
        return
    insert = "INSERT OR IGNORE INTO" if connection.vendor == "sqlite" else "INSERT INTO"
    conflict = " ON CONFLICT (id) DO NOTHING" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f'{insert} "{TABLE}" (id, number) VALUES (1, {_NEXT[connection.vendor]}){conflict}')
