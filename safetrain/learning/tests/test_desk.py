"""LRN-08 / UX-02 (issue 27 item 20): the desk (首页) counts the learners whose suspicious study waits for review
(one per enrolment, however many events), for the operators who run the review queue, and for nobody else."""

from __future__ import annotations

from django.utils import timezone

from safetrain.learning.desk import suspicious_study_to_review
from safetrain.learning.models import Enrolment, SuspiciousEvent, SuspiciousKind


def test_lrn_08_the_desk_counts_enrolments_with_unreviewed_suspicious_study(world, lesson, web_client):
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    assert suspicious_study_to_review(world.operator) == 0
    for kind in (SuspiciousKind.RATE, SuspiciousKind.HIDDEN):
        SuspiciousEvent.objects.create(
            learner=world.learner_nanshan, enrolment=enrolment, kind=kind, at=timezone.now()
        )
    assert suspicious_study_to_review(world.operator) == 1
    assert suspicious_study_to_review(world.admin_nanshan) is None  # the queue is the operators'
    assert suspicious_study_to_review(world.regulator_nanshan) is None
    html = web_client(world.operator).get("/").content.decode()
    assert (
        '<li data-testid="todo-suspicious_study"><a href="/learn/review/"><strong data-count="1">1</strong>'
        in html
    )
