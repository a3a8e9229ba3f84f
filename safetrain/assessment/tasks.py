from celery import shared_task

from safetrain.assessment.exams import attempts_finalize_due


@shared_task(name="assessment.finalize_due_attempts")
def finalize_due_attempts() -> int:
    """Submit every exam whose deadline has passed, even if its candidate is gone (EXM-03). Run every minute."""
    return attempts_finalize_due()
