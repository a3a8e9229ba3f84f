from django.db import models
from django.utils.translation import gettext_lazy as _


class CatalogueVersion(models.Model):
    """One row whose `number` changes, in the database itself (catalog.versioning's triggers), whenever a
    programme, region profile, lesson, chapter or video is inserted, changed or deleted (a video's transcoding
    progress excepted): processes that keep those
    rows in memory (learning.heartbeat_read) read the number with every beat and reload what they hold when it
    is not the number they loaded it at. A changed number is never handed out twice (a sequence on PostgreSQL,
    a random 64-bit number on SQLite), so a change that was rolled back cannot be mistaken for a later one."""

    number = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("catalogue version")
        verbose_name_plural = _("catalogue versions")

    def __str__(self) -> str:
        return str(self.number)
