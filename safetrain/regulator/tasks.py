import datetime as dt

from celery import shared_task
from django.db import DatabaseError

from safetrain.regulator import counters
from safetrain.regulator.complaints import complaints_close_stale


@shared_task(name="regulator.close_stale_complaints")
def close_stale_complaints() -> int:
    return complaints_close_stale()


@shared_task(
    name="regulator.recount_statistics",
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    max_retries=8,
)
def recount_statistics(cells: list[list]) -> int:
    """REG-01: recount the statistics cells that changed (queued when the change committed)."""
    return counters.recount(
        (family, unit, dt.date.fromisoformat(month) if month else None) for family, unit, month in cells
    )


@shared_task(name="regulator.rebuild_statistics")
def rebuild_statistics() -> int:
    """REG-01: recompute every statistics cell from the records (nightly)."""
    return counters.rebuild()
