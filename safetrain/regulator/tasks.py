from celery import shared_task

from safetrain.regulator.complaints import complaints_close_stale


@shared_task(name="regulator.close_stale_complaints")
def close_stale_complaints() -> int:
    return complaints_close_stale()
