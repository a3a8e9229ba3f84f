from celery import shared_task
from django.conf import settings

from safetrain.catalog.services import video_transcode


@shared_task(name="catalog.transcode_video", acks_late=True, time_limit=settings.TRANSCODE_TIME_LIMIT_SECONDS)
def transcode_video(video_id: int) -> str:
    return video_transcode(video_id=video_id).status
