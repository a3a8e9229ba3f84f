from django.db import migrations

from safetrain.records.dbtriggers import guard_chain_heads


def truncate_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE OR REPLACE TRIGGER "records_auditentry_no_truncate" BEFORE TRUNCATE ON "records_auditentry" '
            "FOR EACH STATEMENT EXECUTE FUNCTION safetrain_append_only()",
            params=None,
        )


def drop_truncate_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'DROP TRIGGER IF EXISTS "records_auditentry_no_truncate" ON "records_auditentry"', params=None
        )


class Migration(migrations.Migration):
    dependencies = [("records", "0002_audit_append_only")]

    operations = [migrations.RunPython(truncate_guard, drop_truncate_guard), guard_chain_heads()]
