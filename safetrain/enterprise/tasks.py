from celery import shared_task

from safetrain.enterprise.roster import roster_job_run


@shared_task(name="enterprise.roster_import", acks_late=True)
def run_roster_job(job_id: int) -> str:
    return roster_job_run(job_id).state
