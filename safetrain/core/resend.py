"""Sending a background job's message again when the broker may have lost it (docs/operations.md, "Redis").

A job that matters is written to the database before its message is sent; its task claims the row, so it runs once
however many messages arrive. Rows still waiting after a period get one more message, at most once per period (a
cache key), so that a long but healthy queue is not flooded with duplicates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone


def jobs_resend(
    *,
    waiting: QuerySet,
    task: Any,
    kind: str,
    older_than: dt.timedelta,
    since_field: str = "created_at",
    limit: int = 500,
) -> int:
    """Call `task.delay(pk)` for the rows of `waiting` older than `older_than` not re-sent within that period."""
    cutoff = timezone.now() - older_than
    ids = list(
        waiting.filter(**{f"{since_field}__lt": cutoff}).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    sent = [pk for pk in ids if cache.add(f"task-resent:{kind}:{pk}", 1, int(older_than.total_seconds()))]
    for pk in sent:
        task.delay(pk)
    return len(sent)
