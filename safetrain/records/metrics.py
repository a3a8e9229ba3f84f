"""The chains' checkpoints on /metrics (OPS-06): when each chain's head was last signed into storage, and whether
its newest checkpoint verifies. A beat task that stopped or keeps failing (a broken chain is never checkpointed)
then raises AuditCheckpointStale, and a forged checkpoint AuditCheckpointInvalid, instead of a line in a worker log.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric

from safetrain.records.checkpoints import CheckpointError, checkpoint_latest
from safetrain.records.services import chained_models

# Reading the newest checkpoint lists storage (S3 in production): once a minute per process is enough for an alert
# that waits for several checkpoint intervals.
CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, list[Metric]]] = {}
_lock = threading.Lock()


def checkpoint_interval_seconds() -> float:
    return float(settings.CELERY_BEAT_SCHEDULE["records-checkpoint"]["schedule"])


def checkpoint_gauges() -> list[Metric]:
    """Scrape-time gauges (registered with core.metrics in RecordsConfig.ready), cached for CACHE_SECONDS."""
    with _lock:
        held = _cache.get("gauges")
        if held and time.monotonic() - held[0] < CACHE_SECONDS:
            return held[1]
    last = GaugeMetricFamily(
        "safetrain_audit_checkpoint_last_timestamp_seconds",
        "When the newest signed checkpoint of the chain was taken (0: none yet while the chain has rows).",
        labels=["chain"],
    )
    valid = GaugeMetricFamily(
        "safetrain_audit_checkpoint_valid",
        "1 when the chain's newest checkpoint verifies against the trusted keys, 0 when it does not.",
        labels=["chain"],
    )
    for model in chained_models():
        if not model.objects.exists():
            continue  # an empty chain has nothing to checkpoint
        try:
            checkpoint = checkpoint_latest(model.chain_name)
        except CheckpointError:
            valid.add_metric([model.chain_name], 0)
            continue
        valid.add_metric([model.chain_name], 1)
        last.add_metric([model.chain_name], checkpoint.at.timestamp() if checkpoint else 0.0)
    interval = GaugeMetricFamily(
        "safetrain_audit_checkpoint_interval_seconds",
        "How often the beat task signs the chains' heads into checkpoints (AUDIT_CHECKPOINT_SECONDS).",
        value=checkpoint_interval_seconds(),
    )
    families: list[Metric] = [last, valid, interval]
    with _lock:
        _cache["gauges"] = (time.monotonic(), families)
    return families


def checkpoint_gauges_forget() -> None:
    """Drop the cached reading (tests; a checkpoint written by hand shows at the next scrape)."""
    with _lock:
        _cache.clear()
