"""LRN-01, LRN-03, LRN-05 as pure rules: where the first unwatched part starts, what is missing, where a page starts."""

from __future__ import annotations

import pytest

from safetrain.learning.intervals import first_gap
from safetrain.learning.selectors import lesson_gap, resume_position


@pytest.mark.parametrize(
    ("watched", "start", "end", "gap"),
    [
        ([], 0, 24, 0),
        ([[0, 24]], 0, 24, None),
        ([[0, 4], [14, 24]], 0, 24, 4),
        ([[2, 24]], 0, 24, 0),
        ([[0, 4], [4, 10]], 0, 21, 10),
        ([[0, 4], [14, 24]], 14, 21, None),
    ],
)
def test_lrn_05_the_first_unwatched_second(watched, start, end, gap):
    assert first_gap(watched, start, end) == gap


@pytest.mark.parametrize(
    ("watched", "completed", "last", "start"),
    [
        ([[0, 15]], False, 15, 15),  # where the learner stopped (LRN-03)
        ([[10, 24]], False, 24, 0),  # stopped at the end with the start unwatched: the start
        ([[0, 4], [14, 24]], False, 24, 4),  # the gap in the middle
        ([[0, 4], [14, 24]], False, 16, 4),  # nothing left after the stop: the gap before it
        ([[0, 20]], False, 8, 20),  # rewound and stopped: the first unwatched part after it
        ([[0, 24]], True, 24, 0),  # finished and watched to the end: from the top
        ([[0, 24]], True, 12, 12),  # finished, re-watching: where the learner stopped
    ],
)
def test_lrn_03_where_a_study_page_starts(settings, watched, completed, last, start):
    settings.COMPLETION_TOLERANCE_SECONDS = 3.0
    assert resume_position(watched, 24, completed, last) == start


def test_lrn_05_what_is_missing_of_a_lesson(settings):
    settings.COMPLETION_TOLERANCE_SECONDS = 3.0
    gap = lesson_gap([[0, 4], [14, 24]], 24, completed=False)
    assert (gap.missing, gap.start) == (10, 4)
    assert lesson_gap([[0, 23]], 24, completed=True).start is None
