"""Face-check metrics for /metrics (core.metrics): how many, how long, how many wait for the pool."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from safetrain.proctoring.engine import Reason

OUTCOMES = frozenset(
    {
        "match",
        "no_match",
        "timeout",
        "service_unavailable",
        Reason.NO_FACE,
        Reason.MULTIPLE_FACES,
        Reason.FACE_TOO_SMALL,
        Reason.DIFFERENT_PERSON,
        Reason.NOT_LIVE,
        Reason.UNREADABLE,
    }
)
CHECKS = Counter("safetrain_face_checks", "Face verifications run, by outcome.", ["outcome"])
DURATION = Histogram(
    "safetrain_face_check_duration_seconds",
    "Time of one verification, waiting for the pool included.",
    buckets=(0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 30.0, 60.0),
)
WAITING = Gauge(
    "safetrain_face_checks_waiting",
    "Verifications waiting for a free face worker.",
    multiprocess_mode="livesum",
)
RUNNING = Gauge("safetrain_face_checks_running", "Verifications running now.", multiprocess_mode="livesum")


def check_counted(verification: Any) -> None:
    """By outcome; a reason the platform does not know (a remote service's free text) counts as "other"."""
    outcome = verification.reason or ("match" if verification.match else "no_match")
    CHECKS.labels(outcome if outcome in OUTCOMES else "other").inc()
