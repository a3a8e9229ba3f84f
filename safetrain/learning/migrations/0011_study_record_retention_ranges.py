from django.db import migrations

from safetrain.records.dbtriggers import forbid_changes_except_retention


class Migration(migrations.Migration):
    """The retention delete is allowed only for rows inside an archive file's id range."""

    dependencies = [("learning", "0010_study_record_retention")]

    operations = [forbid_changes_except_retention("learning_studyrecord", "study")]
