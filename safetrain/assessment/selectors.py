"""Reads of exams for staff pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from safetrain.assessment import exam_checks
from safetrain.assessment.models import AttemptKind, ExamAttempt
from safetrain.proctoring.models import CheckPurpose, FaceCheck


def exams_with_identity_failures(*, viewer: Any) -> QuerySet[ExamAttempt]:
    """Exam attempts in which an identity check was not passed (FACE-01 during the exam): ended by it, or flagged
    for review; of the learners the viewer may see, newest first, with the number of failed checks."""
    people = get_user_model().objects.visible_to(viewer).values("pk")
    failed = (
        FaceCheck.objects.filter(purpose=CheckPurpose.EXAM, exam_attempt_id=OuterRef("pk"), passed=False)
        .values("exam_attempt_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        ExamAttempt.objects.filter(kind=AttemptKind.EXAM, enrolment__learner__in=people)
        .filter(Q(face_flagged_at__isnull=False) | Q(submitted_by=exam_checks.ENDED_BY))
        .select_related("enrolment__learner", "enrolment__programme", "enrolment__organisation")
        .annotate(failed_checks=Coalesce(Subquery(failed), 0))
        .order_by("-started_at", "-pk")
    )
