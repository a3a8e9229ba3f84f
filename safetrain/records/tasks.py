from celery import shared_task

from safetrain.records.sealing import archive_old_records, seal_all


@shared_task(name="records.seal")
def seal_task() -> dict[str, int]:
    """Seal the study and exam records written since the last run (REC-04). Every minute."""
    return seal_all()


@shared_task(name="records.retention")
def retention_task() -> dict:
    """Move study records past their online retention to an offline archive file (REC-02). Daily."""
    return archive_old_records("study")
