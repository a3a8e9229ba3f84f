import datetime as dt

from celery import shared_task
from django.conf import settings

from safetrain.enterprise.roster import roster_job_run, roster_jobs_requeue_waiting


@shared_task(name="enterprise.roster_import", acks_late=True)
def run_roster_job(job_id: int) -> str:
    return roster_job_run(job_id).state


@shared_task(name="enterprise.realname_sync", acks_late=True)
def run_realname_sync(project_id: int, actor_id: int | None) -> bool:
    from safetrain.enterprise.realname_sync import realname_sync_run

    return realname_sync_run(project_id, actor_id)


@shared_task(name="enterprise.requeue_waiting")
def requeue_waiting() -> int:
    return roster_jobs_requeue_waiting(older_than=dt.timedelta(minutes=settings.TASK_RESEND_AFTER_MINUTES))
