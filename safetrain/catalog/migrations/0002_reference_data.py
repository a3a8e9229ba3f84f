from django.db import migrations

from safetrain.catalog.reference import load_reference_data


def load(apps, schema_editor):
    load_reference_data(apps)


def search_index(apps, schema_editor):
    # Course search uses PostgreSQL full-text over CJK bigrams; SQLite falls back to substring search.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX catalog_course_search ON catalog_course "
            "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_document, '')))",
            params=None,
        )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_course_search", params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
        migrations.RunPython(search_index, drop_search_index),
    ]
