from django.db import migrations

from safetrain.records.dbtriggers import forbid_changes


class Migration(migrations.Migration):
    dependencies = [("learning", "0002_study_engine"), ("records", "0003_guard_truncate_and_heads")]

    operations = [forbid_changes("learning_studyrecord")]
