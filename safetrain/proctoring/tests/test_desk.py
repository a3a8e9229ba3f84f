"""LRN-08 / UX-02 (issue 27 item 20): the desk (首页) counts the reference photos waiting for the viewer's review,
within its scope (operators everyone's, unit admins their units' people's), and shows a learner the ID photo card."""

from __future__ import annotations

import re

from safetrain.proctoring.desk import photos_to_review
from safetrain.proctoring.models import FaceTemplate, PhotoStatus


def pending_photo(user, status=PhotoStatus.PENDING):
    # The row as an upload leaves it; the photo itself plays no part in the count.
    return FaceTemplate.objects.create(
        user=user,
        template="[]",
        photo_name=f"faces/{user.pk}.bin",
        photo_sha256="0" * 64,
        width=295,
        height=413,
        provider="test",
        status=status,
    )


def test_lrn_08_the_desk_counts_the_photos_each_reviewer_has_to_review(world, web_client):
    pending_photo(world.learner_team)
    pending_photo(world.learner_futian)
    pending_photo(world.learner_nanshan, status=PhotoStatus.APPROVED)
    assert photos_to_review(world.operator) == 2
    assert photos_to_review(world.admin_nanshan) == 1  # the team under its project, not Futian's learner
    assert photos_to_review(world.admin_futian) == 1
    assert photos_to_review(world.regulator_city) is None  # regulators do not review photos
    assert photos_to_review(world.learner_team) is None
    html = web_client(world.admin_nanshan).get("/").content.decode()
    assert re.search(
        r'data-testid="todo-photos"><a href="/proctoring/photos/review/"><strong data-count="1">1</strong>',
        html,
    )
    # The learner's own card says the photo waits for review.
    learner = web_client(world.learner_team).get("/").content.decode()
    assert 'data-testid="photo-card"' in learner
    assert 'data-testid="photo-hold"' in learner
