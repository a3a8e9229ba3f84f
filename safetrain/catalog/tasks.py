import datetime as dt

from celery import shared_task
from django.conf import settings

from safetrain.catalog.services import video_transcode, videos_requeue_waiting


@shared_task(name="catalog.transcode_video", acks_late=True, time_limit=settings.TRANSCODE_TIME_LIMIT_SECONDS)
def transcode_video(video_id: int) -> str:
    return video_transcode(video_id=video_id).status


@shared_task(name="catalog.requeue_waiting")
def requeue_waiting() -> int:
    return videos_requeue_waiting(older_than=dt.timedelta(minutes=settings.TASK_RESEND_AFTER_MINUTES))
