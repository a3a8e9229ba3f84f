"""Runs face verifications off the request's own thread, in a bounded pool, with a timeout.

A verification costs 0.2-0.3 s of CPU per frame (bench/README.md). A small fixed pool per web worker process keeps
the worker's other threads responsive and bounds the CPU a burst of checks can take; a check that does not finish in
FACE_TIMEOUT_SECONDS is answered as failed ("timeout") and the learner may try again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings

from safetrain.proctoring import metrics
from safetrain.proctoring.engine import Verification, provider

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.FACE_WORKERS, thread_name_prefix="face")
    return _pool


def _verify(template: list[float], frames: list[bytes], challenge: str | None) -> Verification:
    metrics.WAITING.dec()
    metrics.RUNNING.inc()
    try:
        return provider().verify(template, frames, challenge=challenge)
    finally:
        metrics.RUNNING.dec()


def verify_with_timeout(template: list[float], frames: list[bytes], *, challenge: str | None) -> Verification:
    started = time.perf_counter()
    metrics.WAITING.inc()
    future = _executor().submit(_verify, template, frames, challenge)
    try:
        verification = future.result(timeout=settings.FACE_TIMEOUT_SECONDS)
    except FutureTimeout:
        if future.cancel():  # never started: it no longer waits
            metrics.WAITING.dec()
        verification = Verification(False, None, 0, None, "timeout")
    metrics.DURATION.observe(time.perf_counter() - started)
    metrics.check_counted(verification)
    return verification
