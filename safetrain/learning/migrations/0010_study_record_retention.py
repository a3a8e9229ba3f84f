from django.db import migrations

from safetrain.records.dbtriggers import forbid_changes_except_retention


class Migration(migrations.Migration):
    """Study records stay append-only; only the retention job may delete rows it has archived (REC-02)."""

    dependencies = [
        ("learning", "0009_exam_suspicious_kind"),
        ("records", "0004_archivefile_retentiongate_recordseal"),
    ]

    operations = [forbid_changes_except_retention("learning_studyrecord")]
