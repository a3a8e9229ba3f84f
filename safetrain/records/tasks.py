from celery import shared_task

from safetrain.records.sealing import archive_old_records, seal_all
from safetrain.records.services import ChainBrokenError, checkpoints_write_all


@shared_task(name="records.seal")
def seal_task() -> dict[str, int]:
    """Seal the study and exam records written since the last run (REC-04). Every minute."""
    return seal_all()


@shared_task(name="records.retention")
def retention_task() -> dict:
    """Move study records past their online retention to an offline archive file (REC-02). Daily."""
    return archive_old_records("study")


@shared_task(name="records.checkpoint")
def checkpoint_task() -> dict[str, str]:
    """Sign each chain's head into a checkpoint in storage (OPS-06). Every AUDIT_CHECKPOINT_SECONDS. A chain that
    does not verify gets none and the task fails, so the worker log shows it."""
    run = checkpoints_write_all()
    if run.failures:
        raise ChainBrokenError("; ".join(run.failures))
    return run.written
