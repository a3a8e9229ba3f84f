"""The catalogue version (CatalogueVersion) kept by the database: triggers on the tables a heartbeat reads
(programmes, region profiles, lessons, their chapters, videos) give the version row a new number whenever one of
their rows is inserted, updated or deleted, however it is changed (the ORM, a queryset update, raw SQL, an
administrator's psql). Inserts count too: an id can come back after a rollback (SQLite reuses it).

A video's transcoding progress alone does not change the version: it is written every few seconds while a video
is transcoded and no heartbeat reads it.

On PostgreSQL the number comes from a sequence, on SQLite from random(), the first one included: a number is never
handed out twice, so a reader that loaded rows inside a transaction which was then rolled back holds them under a
number no later change can have. The triggers run in the changing transaction, on PostgreSQL before each
statement: every transaction changing the catalogue takes the version row first and keeps it until it ends, so two
of them take turns at that row and never wait for each other's catalogue rows in the opposite order (no deadlock).
Heartbeats only read the row and never wait for it. The sequence stays when the migration is reversed, so numbers
handed out before are not handed out again.

The tables and the columns left out are migration 0009's (`install_triggers`); the video trigger names its
columns (all but the progress) as that migration found them: a migration adding a column to catalog_video must
create the trigger again (learning's test_catalogue_cache fails until it does). So must a migration adding a NOT
NULL column (or one with a default) to any watched table: SQLite adds it by rebuilding the table, which drops the
table's triggers (`restore_triggers`).
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
