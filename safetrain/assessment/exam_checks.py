"""Identity checks during an exam (FACE-01 at the exam, GD#11 "培训及测试全流程覆盖", Shanxi's anti-proxy means):
when they fall due, and what a check not passed means. The services that apply them are in assessment.exams.

Where exam face checks are on (FACE_CHECK_AT_EXAM), an exam attempt (not a mock exam) is checked at random moments
taken from the operating system's random source, so a script cannot predict them: the first within the profile's
interval (verification_interval_minutes) from the start, each next one at most that interval after a pass. A
moment is taken only when the check's whole time limit (face_timeout_seconds) fits before the deadline: a due
check can always be passed within the exam's time.

The page is told only that a check is due, never when the next one comes. A check is not passed when the profile's
number of tries fail (face_max_failures) or when no pass comes within its time limit; the profile's rule
(exam_face_failure_action) then ends the attempt or flags it for review.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings

from safetrain.assessment.models import AttemptKind
from safetrain.catalog.models import ExamFaceFailureAction

_random = secrets.SystemRandom()
MIN_DELAY_SECONDS = (
    20.0  # never in the first seconds of a paper (or right after a pass): the page has to settle
)
ENDED_BY = "face_check"  # ExamAttempt.submitted_by of an attempt ended by a check not passed
POLL_SECONDS = 10  # how often the exam page asks whether a check is due


def enabled(attempt: Any) -> bool:
    return bool(settings.FACE_CHECK_AT_EXAM) and attempt.kind == AttemptKind.EXAM


def interval_seconds(profile: Any) -> float:
    return profile.verification_interval_minutes * 60.0


def random_moment(
    *, now: dt.datetime, low: float, high: float, deadline: dt.datetime, timeout: float
) -> dt.datetime | None:
    """A random moment between `low` and `high` seconds after `now` (at least MIN_DELAY_SECONDS) that leaves the
    check's whole time limit before the deadline; None when there is no such moment."""
    room = (deadline - now).total_seconds() - timeout
    high = min(high, room)
    if high < MIN_DELAY_SECONDS:
        return None
    low = min(max(low, MIN_DELAY_SECONDS), high)
    return now + dt.timedelta(seconds=_random.uniform(low, high))


def first_check_at(*, started_at: dt.datetime, deadline: dt.datetime, profile: Any) -> dt.datetime | None:
    """Within the first interval of the paper (between a fifth and four fifths of it)."""
    interval = interval_seconds(profile)
    return random_moment(
        now=started_at,
        low=0.2 * interval,
        high=0.8 * interval,
        deadline=deadline,
        timeout=profile.face_timeout_seconds,
    )


def next_check_at(*, now: dt.datetime, deadline: dt.datetime, profile: Any) -> dt.datetime | None:
    """After a pass (or a flag): between half and all of the interval, never more than the interval."""
    interval = interval_seconds(profile)
    return random_moment(
        now=now, low=0.5 * interval, high=interval, deadline=deadline, timeout=profile.face_timeout_seconds
    )


def due(attempt: Any, now: dt.datetime) -> bool:
    return attempt.face_due_at is not None and now >= attempt.face_due_at


def overdue(attempt: Any, now: dt.datetime, profile: Any) -> bool:
    """Due for longer than the profile allows to pass it."""
    return due(attempt, now) and (now - attempt.face_due_at).total_seconds() > profile.face_timeout_seconds


def seconds_left(attempt: Any, now: dt.datetime, profile: Any) -> int | None:
    """Time left to pass the due check, or None when none is due."""
    if not due(attempt, now):
        return None
    return max(0, int(profile.face_timeout_seconds - (now - attempt.face_due_at).total_seconds()))


def ends_attempt(profile: Any) -> bool:
    return profile.exam_face_failure_action == ExamFaceFailureAction.END
