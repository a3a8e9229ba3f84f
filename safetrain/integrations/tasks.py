from celery import shared_task

from safetrain.integrations import backups, supervision


@shared_task(name="integrations.supervision_collect")
def supervision_collect() -> dict:
    return supervision.collect()


@shared_task(name="integrations.supervision_deliver")
def supervision_deliver() -> dict:
    return supervision.deliver_due()


@shared_task(name="integrations.supervision_revocations")
def supervision_revocations() -> int:
    return supervision.pull_revocations()


@shared_task(name="integrations.backups_due")
def backups_due() -> list[dict]:
    """OPS-03: every 15 minutes (on the "backup" queue), whatever backup is due runs; missed ones raise alarms."""
    return [
        {"id": run.pk, "target": run.target, "repo": run.repo, "kind": run.kind, "ok": run.ok}
        for run in backups.backups_due_run()
    ]
