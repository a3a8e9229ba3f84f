"""The catalogue version (CatalogueVersion) kept by the database: triggers on the tables a heartbeat reads
(programmes, region profiles, lessons, videos) give the version row a new number whenever one of their rows is
updated or deleted, however it is changed (the ORM, a queryset update, raw SQL, an administrator's psql).

A video's transcoding progress alone does not change the version: it is written every few seconds while a video
is transcoded and no heartbeat reads it. Inserts do not either: a row nobody has read yet cannot be held stale.

On PostgreSQL the number comes from a sequence, on SQLite from random(): a number is never handed out twice, so a
reader that loaded rows inside a transaction which was then rolled back holds them under a number no later
change can have. The triggers run in the changing transaction (the version row is locked until it ends, so two
transactions changing the catalogue at the same time take turns at that row).
"""

from __future__ import annotations

from typing import Any

TABLE = "catalog_catalogueversion"
SEQUENCE = "catalog_catalogueversion_number"
# table -> columns whose change does not change the version
WATCHED = {
    "catalog_programme": (),
    "catalog_regionprofile": (),
    "catalog_lesson": (),
    "catalog_video": ("progress",),
}


def _columns(apps: Any, table: str) -> list[str]:
    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    return [f.column for f in model._meta.concrete_fields if f.column not in WATCHED[table]]


def install(apps: Any, schema_editor: Any) -> None:
    """A migration's forward step: the version row and the triggers (columns as the migration's models have
    them)."""
    vendor = schema_editor.connection.vendor
    statements: list[str] = []
    if vendor == "postgresql":
        statements += [
            f'CREATE SEQUENCE IF NOT EXISTS "{SEQUENCE}"',
            f"""
            CREATE OR REPLACE FUNCTION safetrain_catalogue_changed() RETURNS trigger AS $$
            BEGIN
                UPDATE "{TABLE}" SET number = nextval('"{SEQUENCE}"') WHERE id = 1;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """,
        ]
        for table, ignored in WATCHED.items():
            update = f"UPDATE OF {', '.join(_columns(apps, table))}" if ignored else "UPDATE"
            statements.append(
                f'CREATE TRIGGER "{table}_version" AFTER {update} OR DELETE OR TRUNCATE ON "{table}" '
                "FOR EACH STATEMENT EXECUTE FUNCTION safetrain_catalogue_changed()"
            )
    elif vendor == "sqlite":
        bump = f'UPDATE "{TABLE}" SET number = random() WHERE id = 1;'
        for table, ignored in WATCHED.items():
            update = f"UPDATE OF {', '.join(_columns(apps, table))}" if ignored else "UPDATE"
            statements += [
                f'CREATE TRIGGER "{table}_version_update" AFTER {update} ON "{table}" BEGIN {bump} END',
                f'CREATE TRIGGER "{table}_version_delete" AFTER DELETE ON "{table}" BEGIN {bump} END',
            ]
    for statement in statements:
        schema_editor.execute(statement, params=None)
    apps.get_model("catalog", "CatalogueVersion").objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"number": 1}
    )


def uninstall(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for table in WATCHED:
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_version" ON "{table}"', params=None)
        elif vendor == "sqlite":
            for event in ("update", "delete"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_version_{event}"', params=None)
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS safetrain_catalogue_changed()", params=None)
        schema_editor.execute(f'DROP SEQUENCE IF EXISTS "{SEQUENCE}"', params=None)
