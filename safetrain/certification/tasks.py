from celery import shared_task

from safetrain.certification.services import issue_sweep


@shared_task(name="certification.issue_sweep")
def issue_sweep_task() -> int:
    """Catch-up for certificates not issued at the moment their rules were met (CERT-01). Run every 10 minutes."""
    return issue_sweep()
