"""Prometheus metrics (OPS-01, OPS-02) with prometheus-client.

Each web node serves `/metrics` (core.views.metrics). Under a server with several worker processes (granian
`--workers N`), PROMETHEUS_MULTIPROC_DIR names an empty folder per node, wiped at the node's start: every process
writes its counters there and a scrape adds them up (prometheus-client's multiprocess mode). Without it (tests,
`make run` with one worker) the process's own registry is read.

Requests are counted by a WSGI wrapper around the whole application (config.wsgi), so the heartbeats answered by
the fast path before Django count as well. The load (OPS-02) is the node's request rate over LOAD_WINDOW_SECONDS as
a fraction of DESIGN_LOAD_RPS, the node's measured capacity (bench/README.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

# Seconds: a heartbeat answers in a few ms, a page in tens, a face check in seconds; OPS-01's bound is 3 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "safetrain_http_requests",
    "HTTP requests answered, by route group, method and status class.",
    ["group", "method", "status"],
)
LATENCY = Histogram(
    "safetrain_http_request_duration_seconds",
    "Time to answer a request, by route group.",
    ["group"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "safetrain_http_requests_in_flight",
    "Requests being answered now.",
    multiprocess_mode="livesum",
)

# (pattern, group): the first that matches names the request's group; everything else is a page.
ROUTE_GROUPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/api/v1/study-sessions/\d+/heartbeats$"), "heartbeat"),
    (re.compile(r"/api/v1/attempts/\d+/answers/"), "exam_answer"),
    (re.compile(r"/api/v1/face-checks$|/proctoring/verify"), "face_check"),
    (re.compile(r"/api/"), "api"),
    (re.compile(r"/static/"), "static"),
    (re.compile(r"/(metrics|healthz)$"), "internal"),
    (re.compile(r"/admin/"), "admin"),
)
# A client chooses the method: anything else is "other", so that nobody can add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Groups that are not load: files whitenoise hands out and the probes themselves.
NOT_LOAD = frozenset({"static", "internal"})


def route_group(path: str) -> str:
    for pattern, group in ROUTE_GROUPS:
        if pattern.match(path):
            return group
    return "page"


class RequestMetrics:
    """WSGI middleware: counts and times every request by route group."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        group = route_group(environ.get("PATH_INFO", ""))
        started = time.perf_counter()
        status = ["5xx"]

        def observe_status(status_line: str, headers: list, exc_info: Any = None) -> Callable[..., Any]:
            status[0] = f"{status_line[:1]}xx"
            return (
                start_response(status_line, headers, exc_info)
                if exc_info
                else start_response(status_line, headers)
            )

        IN_FLIGHT.inc()
        try:
            return self.app(environ, observe_status)
        finally:
            IN_FLIGHT.dec()
            LATENCY.labels(group).observe(time.perf_counter() - started)
            method = environ.get("REQUEST_METHOD", "")
            REQUESTS.labels(group, method if method in METHODS else "other", status[0]).inc()


def registry() -> CollectorRegistry:
    if not MULTIPROC_DIR:
        return PROCESS_REGISTRY
    _forget_dead_workers()
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def _forget_dead_workers() -> None:
    """A worker killed mid-request (kill -9, then granian's respawn) leaves its live gauges behind: drop them."""
    for path in Path(MULTIPROC_DIR).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid)
        except PermissionError:  # alive, another user's
            pass


def requests_total(reg: CollectorRegistry) -> float:
    """Requests that count as load, summed over the node's processes."""
    total = 0.0
    for family in reg.collect():
        if family.name != "safetrain_http_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("group") not in NOT_LOAD:
                total += sample.value
    return total


class LoadMeter:
    """The node's request rate over a sliding window, from the request counter's value at each scrape.

    The samples live in a file beside the multiprocess metrics (or in memory for one process), so whichever
    worker answers the scrape sees the others' samples. A rate needs two samples: the first scrape reads 0."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._samples: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def _load(self) -> list[tuple[float, float]]:
        if self.path is None:
            return self._samples
        try:
            return [tuple(s) for s in json.loads(self.path.read_text())]  # type: ignore[misc]
        except (OSError, ValueError):
            return []

    def _store(self, samples: list[tuple[float, float]]) -> None:
        if self.path is None:
            self._samples = samples
            return
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(samples))
        tmp.replace(self.path)  # atomic: a concurrent scrape reads the old or the new list, never half

    def rate(self, total: float, window: float, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._lock:
            samples = [s for s in self._load() if now - s[0] <= 2 * window and s[1] <= total]
            base = next((s for s in samples if now - s[0] <= window), None)
            if base is None and samples:
                base = samples[-1]  # scrapes further apart than the window: the rate since the last one
            samples.append((now, total))
            self._store(samples[-200:])
        if base is None or now - base[0] < 0.5:
            return 0.0
        return (total - base[1]) / (now - base[0])


LOAD_METER = LoadMeter(Path(MULTIPROC_DIR) / "load-samples.json" if MULTIPROC_DIR else None)


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def exposition(families: list[Metric], reg: CollectorRegistry | None = None) -> bytes:
    """The text a scrape reads: the node's counters plus `families` read at scrape time (database, queues, load)."""
    now_reg = CollectorRegistry()
    now_reg.register(_Families(families))  # type: ignore[arg-type]
    return generate_latest(reg or registry()) + generate_latest(now_reg)


def gauge(name: str, documentation: str, value: float | None = None, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    if value is not None:
        if labels:
            family.add_metric(list(labels.values()), value)
        else:
            family.add_metric([], value)
    return family


# Gauges that higher apps read at scrape time (the backups' from their table, integrations.backups): core may not
# import them, so each registers a provider here when its app is ready, and /metrics adds what each returns.
ScrapeGaugeProvider = Callable[[], list[Metric]]
_SCRAPE_GAUGE_PROVIDERS: list[ScrapeGaugeProvider] = []


def scrape_gauges_register(provider: ScrapeGaugeProvider) -> ScrapeGaugeProvider:
    """Add `provider` to every scrape (once, however often an app's ready() runs); usable as a decorator."""
    if provider not in _SCRAPE_GAUGE_PROVIDERS:
        _SCRAPE_GAUGE_PROVIDERS.append(provider)
    return provider


def scrape_gauges_providers() -> tuple[ScrapeGaugeProvider, ...]:
    return tuple(_SCRAPE_GAUGE_PROVIDERS)
