from django.db import migrations

from safetrain.records.dbtriggers import forbid_changes


class Migration(migrations.Migration):
    dependencies = [("records", "0001_initial")]

    operations = [forbid_changes("records_auditentry")]
