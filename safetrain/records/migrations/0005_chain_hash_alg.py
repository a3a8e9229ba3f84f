from django.db import migrations, models

from safetrain.records.dbtriggers import reinstall_after_rebuild


class Migration(migrations.Migration):
    """Each chained row names the algorithm of its hash; the rows already there were hashed with plain SHA-256."""

    dependencies = [("records", "0004_archivefile_retentiongate_recordseal")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="hash_alg",
            field=models.CharField(default="sha256", max_length=16, verbose_name="hash algorithm"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="recordseal",
            name="hash_alg",
            field=models.CharField(default="sha256", max_length=16, verbose_name="hash algorithm"),
            preserve_default=False,
        ),
        # SQLite rebuilt both tables for the new column, dropping their append-only triggers: put them back.
        reinstall_after_rebuild("records_auditentry", None),
        reinstall_after_rebuild("records_recordseal", None),
    ]
