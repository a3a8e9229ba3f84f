"""OPS-02 end to end: a node over 70 % of its design load raises an alarm that lands in the platform's alarm log.

Real processes: granian (two workers, prometheus-client's multiprocess metrics), Prometheus evaluating the rules of
deploy/prometheus/alerts.yml, Alertmanager posting to the platform's webhook. The design load is set small (4
requests/s) so that a test client can drive the node over 70 % of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.demo_server import ROOT, free_port, manage, start_demo_server, wait_for

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
METRICS_TOKEN = "monitoring-test-metrics-token"
WEBHOOK_TOKEN = "monitoring-test-webhook-token"


def alarms(server) -> list[dict]:
    script = (
        "import json; from safetrain.integrations.models import Alarm; "
        "print(json.dumps(list(Alarm.objects.values('name', 'status', 'node', 'severity', 'summary'))))"
    )
    return json.loads(manage(server.env, "shell", "-c", script).strip().splitlines()[-1])


def scrape(server, token: str = METRICS_TOKEN) -> str:
    request = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def value(text: str, name: str) -> float:
    """A sample's value in a scrape; a labelled counter not yet counted has no sample: 0."""
    for line in text.splitlines():
        if line.startswith((f"{name} ", f"{name}{{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    missing = [b for b in (PROMETHEUS, ALERTMANAGER) if not Path(b).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make test` as root once (it installs Debian's prometheus "
                    "and prometheus-alertmanager)")  # fmt: skip
    work = tmp_path_factory.mktemp("monitoring")
    (work / "metrics").mkdir()
    server = start_demo_server(
        work,
        workers=2,
        PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"),
        DESIGN_LOAD_RPS="4",
        LOAD_WINDOW_SECONDS="5",
        METRICS_TOKEN=METRICS_TOKEN,
        ALERT_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        NODE_NAME="web-test",
    )
    (work / "metrics.token").write_text(METRICS_TOKEN)
    (work / "webhook.token").write_text(WEBHOOK_TOKEN)
    prometheus_port, alertmanager_port = free_port(), free_port()
    # Production's alerting settings, with the scrape and evaluation a second apart so that the test is short.
    (work / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": "safetrain-web",
                        "authorization": {"type": "Bearer", "credentials_file": str(work / "metrics.token")},
                        "static_configs": [
                            {"targets": [server.url.removeprefix("http://")], "labels": {"node": "web-test"}}
                        ],
                    }
                ],
            }
        )
    )
    (work / "alertmanager.yml").write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "safetrain",
                    "group_by": ["alertname", "node"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "safetrain",
                        "webhook_configs": [
                            {
                                "url": f"{server.url}/ops/alerts/webhook",
                                "send_resolved": True,
                                "http_config": {
                                    "authorization": {
                                        "type": "Bearer",
                                        "credentials_file": str(work / "webhook.token"),
                                    }
                                },
                            }
                        ],
                    }
                ],
            }
        )
    )
    logs = [open(work / name, "w") for name in ("prometheus.log", "alertmanager.log")]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={work / 'alertmanager.yml'}",
                f"--storage.path={work / 'am'}",
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                "--cluster.listen-address=",
            ],
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        ),
    ]
    yield server, work
    for process in [*processes, server.process]:
        process.terminate()
    for process in [*processes, server.process]:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    for log in logs:
        log.close()
    shutil.rmtree(work / "tsdb", ignore_errors=True)


def test_ops_02_metrics_of_a_two_worker_node_add_up_and_need_the_token(monitored):
    server, _work = monitored
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(server, token="wrong")
    assert refused.value.code == 404
    before = value(scrape(server), 'safetrain_http_requests_total{group="page",method="GET",status="2xx"}')
    for _ in range(20):  # spread over both workers by the kernel; the scrape adds them up
        with urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=30):
            pass
    text = scrape(server)
    after = value(text, 'safetrain_http_requests_total{group="page",method="GET",status="2xx"}')
    assert after - before == 20
    assert value(text, "safetrain_design_load_requests_per_second") == 4
    assert value(text, "safetrain_database_up") == 1
    assert 'safetrain_http_request_duration_seconds_bucket{group="page",le="3.0"}' in text


def test_ops_02_over_70_percent_of_the_design_load_an_alarm_is_logged_and_resolved(monitored):
    server, work = monitored
    stop = threading.Event()

    def load() -> None:  # about 8 requests/s: twice the design load
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=30):
                    pass
            except OSError:
                pass
            stop.wait(0.125)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        firing = wait_for(
            lambda: [a for a in alarms(server) if a["name"] == "LoadAbove70PercentOfDesign"],
            "the 70 % alarm in the alarm log",
            timeout=180,
            every=3,
        )
        assert value(scrape(server), "safetrain_load_ratio") >= 0.7
    finally:
        stop.set()
        thread.join(timeout=60)
    assert firing[0]["severity"] == "warning"
    assert firing[0]["node"] == "web-test"
    assert "负载达到设计负荷" in firing[0]["summary"]
    # Load gone: Prometheus resolves the alert and Alertmanager tells the platform.
    wait_for(
        lambda: any(
            a["status"] == "resolved" for a in alarms(server) if a["name"] == "LoadAbove70PercentOfDesign"
        ),
        f"the alarm's resolution; logs in {work}",
        timeout=180,
        every=3,
    )
