from celery import shared_task

from safetrain.integrations import supervision


@shared_task(name="integrations.supervision_collect")
def supervision_collect() -> dict:
    return supervision.collect()


@shared_task(name="integrations.supervision_deliver")
def supervision_deliver() -> dict:
    return supervision.deliver_due()


@shared_task(name="integrations.supervision_revocations")
def supervision_revocations() -> int:
    return supervision.pull_revocations()
