"""A study session points at its progress row, so that a heartbeat reads and locks both in one query."""

import django.db.models.deletion
from django.db import migrations, models


def link_progress(apps, schema_editor):
    StudySession = apps.get_model("learning", "StudySession")
    LessonProgress = apps.get_model("learning", "LessonProgress")
    for session in StudySession.objects.filter(progress__isnull=True).iterator():
        progress, _ = LessonProgress.objects.get_or_create(enrolment_id=session.enrolment_id, lesson_id=session.lesson_id)
        StudySession.objects.filter(pk=session.pk).update(progress=progress)


class Migration(migrations.Migration):
    dependencies = [("learning", "0007_study_session_face_checks")]

    operations = [
        migrations.AddField(
            model_name="studysession",
            name="progress",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="learning.lessonprogress"
            ),
        ),
        migrations.RunPython(link_progress, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="studysession",
            name="progress",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="learning.lessonprogress"
            ),
        ),
    ]
