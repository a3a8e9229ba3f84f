"""Reference photos and face templates (ACC-07, ACC-08): both encrypted at rest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.core.fields import EncryptedTextField


class FaceTemplate(models.Model):
    """A learner's enrolment reference: the photo (an encrypted file in storage) and its 128-d descriptor
    (encrypted JSON). Replaced only by an administrator once set."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="face_template"
    )
    template = EncryptedTextField(_("face template"))
    photo_name = models.CharField(max_length=200, help_text="storage name of the encrypted reference photo")
    photo_sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    provider = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("face template")
        verbose_name_plural = _("face templates")

    def __str__(self) -> str:
        return f"face template of {self.user_id}"
