from celery import shared_task


@shared_task(name="learning.phones_erase")
def phones_erase() -> int:
    """Hourly (POL-PHONE, GD#14): no phone kept for a learner under a profile that keeps none."""
    from safetrain.learning.services import phones_erase_by_profile

    return phones_erase_by_profile()
