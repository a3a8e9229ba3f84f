"""Study-time metrics for /metrics (core.metrics): heartbeats answered and seconds credited."""

from __future__ import annotations

from prometheus_client import Counter

HEARTBEATS = Counter(
    "safetrain_heartbeats", "Heartbeats answered, by whether they credited time.", ["credited"]
)
CREDITED_SECONDS = Counter("safetrain_study_seconds_credited", "Study seconds credited by heartbeats.")


# (looked up once: every beat counts)
_CREDITED, _NOT_CREDITED = HEARTBEATS.labels("yes"), HEARTBEATS.labels("no")


def heartbeat_counted(credited_seconds: float) -> None:
    """After the beat's transaction committed."""
    (_CREDITED if credited_seconds > 0 else _NOT_CREDITED).inc()
    if credited_seconds > 0:
        CREDITED_SECONDS.inc(credited_seconds)
