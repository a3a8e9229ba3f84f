from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

TICK_KEY = "ops:celery-tick"


@shared_task(name="core.tick")
def tick() -> None:
    """Beat queues this every minute; /metrics reports how long ago a worker ran it, so a stalled queue, a dead
    worker or a dead beat raises an alarm (deploy/prometheus/alerts.yml)."""
    cache.set(TICK_KEY, time.time(), None)
