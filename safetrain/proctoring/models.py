"""Reference photos and face templates (ACC-07, ACC-08): both encrypted at rest. A reference photo counts only once
it is approved (实名核验): by a reviewer in the learner's unit or training institution, or by the identity service."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safetrain.core.fields import EncryptedTextField


class PhotoStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class DecisionSource(models.TextChoices):
    REVIEWER = "reviewer", _("Reviewer")
    IDENTITY_SERVICE = "identity_service", _("Identity service")


class FaceTemplateQuerySet(models.QuerySet):
    def approved(self) -> FaceTemplateQuerySet:
        """The references that count: study, exams, group matching and certificates use nothing else."""
        return self.filter(status=PhotoStatus.APPROVED)


class FaceTemplate(models.Model):
    """A learner's current enrolment reference: the photo (an encrypted file in storage) and its 128-d descriptor
    (encrypted JSON), with its review. The learner uploads again only while none counts (none yet, or rejected);
    an administrator replaces it. A replaced photo moves to FacePhotoArchive, its file kept."""

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
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("review"), max_length=10, choices=PhotoStatus.choices, default=PhotoStatus.PENDING, db_index=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_source = models.CharField(max_length=20, choices=DecisionSource.choices, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=300, blank=True)
    # The identity service's answer (实名比对), kept for the reviewers whatever it was: match, mismatch, no_record,
    # unavailable; its reason; and the ID-card photo it returned (encrypted file), if any.
    identity_result = models.CharField(max_length=20, blank=True)
    identity_reason = models.CharField(max_length=200, blank=True)
    identity_score = models.FloatField(null=True, blank=True)
    identity_checked_at = models.DateTimeField(null=True, blank=True)
    id_photo_name = models.CharField(max_length=200, blank=True)

    objects = FaceTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("face template")
        verbose_name_plural = _("face templates")

    def __str__(self) -> str:
        return f"face template of {self.user_id}"

    @property
    def is_approved(self) -> bool:
        return self.status == PhotoStatus.APPROVED


class FacePhotoArchive(models.Model):
    """A reference photo that was replaced, kept with its review (retention: the encrypted file is never deleted
    with the replacement). Certificates and checks never use it; the media check verifies its file."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    photo_name = models.CharField(max_length=200)
    photo_sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    provider = models.CharField(max_length=100)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=PhotoStatus.choices)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_source = models.CharField(max_length=20, choices=DecisionSource.choices, blank=True)
    decision_reason = models.CharField(max_length=300, blank=True)
    identity_result = models.CharField(max_length=20, blank=True)
    id_photo_name = models.CharField(max_length=200, blank=True)
    archived_at = models.DateTimeField()
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["user", "-archived_at", "-pk"]
        verbose_name = _("archived reference photo")
        verbose_name_plural = _("archived reference photos")

    def __str__(self) -> str:
        return f"archived photo of {self.user_id} ({self.archived_at:%Y-%m-%d})"


class CheckPurpose(models.TextChoices):
    LOGIN = "login", _("Sign-in")
    EXAM = "exam", _("Exam")  # at the start (no attempt yet) and during the attempt (exam_attempt_id)
    STUDY = "study", _("While studying")
    MANUAL = "manual", _("Requested check")


class CheckReason(models.TextChoices):
    """Labels for `FaceCheck.reason` (the face engine's reasons and the service's own outcomes). Labels only: the
    field keeps free codes, so an engine's new reason still saves."""

    NO_FACE = "no_face", _("No face seen")
    MULTIPLE_FACES = "multiple_faces", _("More than one face")
    FACE_TOO_SMALL = "face_too_small", _("Face too far away")
    DIFFERENT_PERSON = "different_person", _("Not the enrolled person")
    NOT_LIVE = "not_live", _("Liveness check failed")
    UNREADABLE = "unreadable_image", _("Picture could not be read")
    TIMEOUT = "timeout", _("Check took too long")
    SERVICE_UNAVAILABLE = "service_unavailable", _("Verification service unavailable")


class Challenge(models.TextChoices):
    """Labels for the liveness action asked of the learner (`FaceCheck.challenge`, FACE-02)."""

    BLINK = "blink", _("Blink")
    TURN = "turn", _("Turn the head")


def code_label(choices: type[models.TextChoices], code: str) -> str:
    """The label of a code, "" for none, and a neutral word (never the raw code) for one not listed."""
    if not code:
        return ""
    try:
        return str(choices(code).label)
    except ValueError:
        return str(_("Other"))


class FaceCheck(models.Model):
    """One identity check and its snapshot (抓拍, FACE-04): time, result, distance, IP; the captured frame is stored
    encrypted in the learner's archive."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="face_checks")
    purpose = models.CharField(max_length=10, choices=CheckPurpose.choices)
    study_session_id = models.BigIntegerField(null=True, blank=True)
    # A check during an exam: the attempt it belongs to (assessment.ExamAttempt; an id, as proctoring knows no
    # exams). Only the exam's own endpoints issue and answer such a challenge.
    exam_attempt_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)
    passed = models.BooleanField()
    reason = models.CharField(max_length=30, blank=True)
    distance = models.FloatField(null=True, blank=True)
    challenge = models.CharField(max_length=10, blank=True)
    frames = models.PositiveSmallIntegerField(default=1)
    snapshot_name = models.CharField(max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    ip = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("face check")
        verbose_name_plural = _("face checks")

    def __str__(self) -> str:
        return f"{self.user_id} {self.purpose} {'ok' if self.passed else self.reason}"

    @property
    def reason_label(self) -> str:
        return code_label(CheckReason, self.reason)

    @property
    def challenge_label(self) -> str:
        return code_label(Challenge, self.challenge)


class FaceChallenge(models.Model):
    """A liveness challenge issued by the server (FACE-02): the page learns what to ask for (blink, turn) only when
    the check starts, and answers it once, within FACE_CHALLENGE_TTL_SECONDS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=10, choices=CheckPurpose.choices)
    study_session_id = models.BigIntegerField(null=True, blank=True)
    # A check during an exam: the attempt it belongs to (assessment.ExamAttempt; an id, as proctoring knows no
    # exams). Only the exam's own endpoints issue and answer such a challenge.
    exam_attempt_id = models.BigIntegerField(null=True, blank=True)
    challenge = models.CharField(max_length=10)
    issued_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("liveness challenge")
        verbose_name_plural = _("liveness challenges")

    def __str__(self) -> str:
        return f"{self.purpose} {self.challenge} for {self.user_id}"


class GroupFaceMatch(models.Model):
    """Group training (FACE-06): a face found in an organiser's photo and the enrolled learner it matches (or none).
    A new matching run replaces the session's earlier rows."""

    session = models.ForeignKey(
        "catalog.OfflineSession", on_delete=models.CASCADE, related_name="face_matches"
    )
    photo = models.ForeignKey("catalog.OfflinePhoto", on_delete=models.CASCADE, related_name="face_matches")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    distance = models.FloatField(null=True, blank=True)
    box = models.JSONField(default=list)
    matched_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "photo", "pk"]
        verbose_name = _("group photo match")
        verbose_name_plural = _("group photo matches")

    def __str__(self) -> str:
        return f"{self.session_id}: {self.learner_id or '?'}"
