"""Group training (FACE-06): faces in the organiser's front-face photos matched against the enrolled learners.

Faces are found and described with the built-in model. Candidates are the learners enrolled in the session's programme who belong to the session's unit (or a unit under
it) and have an approved reference photo. Every face found gets the nearest candidate within the match threshold, or none;
a learner matched in no photo is listed as not seen. A new run replaces the session's earlier match list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from safetrain.catalog.models import OfflinePhotoKind, OfflineSession
from safetrain.proctoring.engine import MATCH_THRESHOLD, DlibProvider, FaceError
from safetrain.proctoring.models import FaceTemplate, GroupFaceMatch
from safetrain.records.services import audit_log


@dataclass
class GroupMatchSummary:
    faces: int = 0
    matched: list[int] = field(default_factory=list)  # learner ids, in the order first seen
    unknown_faces: int = 0
    not_seen: list[int] = field(default_factory=list)  # present on the list, but in no photo
    without_photo: list[int] = field(default_factory=list)  # candidates without a usable reference photo
    unreadable_photos: int = 0


def candidates(session: OfflineSession) -> list[int]:
    from safetrain.learning.models import Enrolment

    attendance = set(session.attendance.values_list("learner_id", flat=True))
    enrolled = set(
        Enrolment.objects.filter(
            programme=session.programme,
            learner__memberships__organisation__path__startswith=session.organisation.path,
        ).values_list("learner_id", flat=True)
    )
    return sorted(attendance | enrolled)


def usable_templates(people: list[int]) -> dict[int, np.ndarray]:
    """The references the built-in model made (128 numbers); others (an external service's) cannot be searched."""
    templates = {}
    for t in FaceTemplate.objects.approved().filter(user_id__in=people, provider=DlibProvider.__name__):
        value = json.loads(t.template)
        if isinstance(value, list) and len(value) == 128:
            templates[t.user_id] = np.array(value, dtype=float)
    return templates


def group_photos_match(*, session_id: int, actor: Any = None) -> GroupMatchSummary:
    session = OfflineSession.objects.select_related("organisation", "programme").get(pk=session_id)
    people = candidates(session)
    templates = {
        t.user_id: np.array(json.loads(t.template))
        for t in FaceTemplate.objects.approved().filter(user_id__in=people)
    }
    summary = GroupMatchSummary(without_photo=[p for p in people if p not in templates])
    ids = list(templates)
    matrix = np.array([templates[i] for i in ids]) if ids else np.zeros((0, 128))
    now = timezone.now()
    rows: list[GroupFaceMatch] = []
    for photo in session.photos.filter(kind=OfflinePhotoKind.FACES).order_by("pk"):
        try:
            with photo.image.open("rb") as fh:
                data = fh.read()
            faces = DlibProvider().describe_all(data)
        except (OSError, FaceError):
            summary.unreadable_photos += 1
            continue
        for face in faces:
            summary.faces += 1
            learner, distance = None, None
            if ids:
                distances = np.linalg.norm(matrix - np.array(face.template), axis=1)
                best = int(np.argmin(distances))
                distance = round(float(distances[best]), 4)
                if distance <= MATCH_THRESHOLD:
                    learner = ids[best]
            if learner is None:
                summary.unknown_faces += 1
            elif learner not in summary.matched:
                summary.matched.append(learner)
            rows.append(
                GroupFaceMatch(
                    session=session,
                    photo=photo,
                    learner_id=learner,
                    distance=distance,
                    box=list(face.face_box),
                    matched_at=now,
                )
            )
    present = session.attendance.filter(present=True).values_list("learner_id", flat=True)
    summary.not_seen = [p for p in present if p not in summary.matched]
    with transaction.atomic():
        GroupFaceMatch.objects.filter(session=session).delete()
        GroupFaceMatch.objects.bulk_create(rows)
        audit_log(
            action="face.group_match",
            obj=session,
            actor=actor,
            organisation_id=session.organisation_id,
            detail={
                "faces": summary.faces,
                "matched": len(summary.matched),
                "unknown_faces": summary.unknown_faces,
                "not_seen": len(summary.not_seen),
            },
        )
    return summary
