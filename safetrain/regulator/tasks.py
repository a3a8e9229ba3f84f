from celery import shared_task
from django.db import DatabaseError

from safetrain.regulator import counters
from safetrain.regulator.complaints import complaints_close_stale


@shared_task(name="regulator.close_stale_complaints")
def close_stale_complaints() -> int:
    return complaints_close_stale()


@shared_task(
    name="regulator.drain_statistics", autoretry_for=(DatabaseError,), retry_backoff=5, max_retries=3
)
def drain_statistics() -> int:
    """REG-01: recount the statistics cells touched since the last drain (every few seconds)."""
    total = 0
    while done := counters.drain():
        total += done
    return total


@shared_task(name="regulator.rebuild_statistics")
def rebuild_statistics() -> int:
    """REG-01: recompute every statistics cell from the records (nightly)."""
    return counters.rebuild()
