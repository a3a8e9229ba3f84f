import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, the index Django made for the foreign key): the same name on PostgreSQL and SQLite.
DROPPED = (
    ("learning_dailycredit", "learner_id", "learning_dailycredit_learner_id_697b7781"),
    ("learning_lessonprogress", "enrolment_id", "learning_lessonprogress_enrolment_id_da2e734a"),
    ("learning_studyrecord", "enrolment_id", "learning_studyrecord_enrolment_id_49836359"),
    ("learning_studysession", "enrolment_id", "learning_studysession_enrolment_id_5c0dac8e"),
    ("learning_studysession", "learner_id", "learning_studysession_learner_id_717c90f0"),
    ("learning_studysession", "lesson_id", "learning_studysession_lesson_id_089ada05"),
    ("learning_studysession", "progress_id", "learning_studysession_progress_id_614d4a40"),
)


class Migration(migrations.Migration):
    """The heartbeat's tables lose the single-column indexes no query uses (issue 4): those a composite index
    already covers, and the session's enrolment, lesson and progress keys, which nothing looks sessions up by.
    Each heartbeat updates or inserts a row of these tables, and PostgreSQL opens and locks every index of a table
    for that; the session's lesson index also let the study record's key check scan every session of a lesson.

    The indexes are dropped by name: Django's own AlterField(db_index=False) drops every plain index on the
    column, and on the session's learner that includes the partial unique index one_active_study_session (ANTI-03).
    """

    dependencies = [
        ("learning", "0014_study_record_composite_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for table, column, index in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="dailycredit",
                    name="learner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="lessonprogress",
                    name="enrolment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="progress",
                        to="learning.enrolment",
                    ),
                ),
                migrations.AlterField(
                    model_name="studyrecord",
                    name="enrolment",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="learning.enrolment",
                    ),
                ),
                migrations.AlterField(
                    model_name="studysession",
                    name="enrolment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sessions",
                        to="learning.enrolment",
                    ),
                ),
                migrations.AlterField(
                    model_name="studysession",
                    name="learner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="study_sessions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="studysession",
                    name="lesson",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="catalog.lesson",
                    ),
                ),
                migrations.AlterField(
                    model_name="studysession",
                    name="progress",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="learning.lessonprogress",
                    ),
                ),
            ],
        ),
    ]
