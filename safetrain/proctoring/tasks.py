from celery import shared_task

from safetrain.proctoring.group import group_photos_match


@shared_task(name="proctoring.match_group_photos", acks_late=True, time_limit=600)
def match_group_photos(session_id: int) -> int:
    """Match the faces in a group session's photos (FACE-06); returns the number of learners matched."""
    return len(group_photos_match(session_id=session_id).matched)


@shared_task(name="proctoring.housekeeping")
def housekeeping() -> int:
    """Hourly: old face challenges go (the checks themselves are kept in the learner's archive)."""
    from safetrain.proctoring.services import challenges_purge

    return challenges_purge()
