"""The production topology of `make prod-up` (deploy/): nginx with TLS in front of two granian web nodes, a Celery
worker and beat, Prometheus and Alertmanager under one supervisord, here on free ports, in a temporary PROD_DIR and a
database of its own, beside any topology a developer runs.

The fixture runs the real `make prod-up` and `make prod-down`; the deadlines are generous (a busy 2-core machine).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.demo_server import wait_for

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ("nginx", "web1", "web2", "celery-worker", "celery-beat", "prometheus", "alertmanager")
BINARIES = (
    "/usr/sbin/nginx",
    "/usr/bin/supervisord",
    "/usr/bin/supervisorctl",
    "/usr/bin/prometheus",
    "/usr/bin/prometheus-alertmanager",
)
# A Redis database of its own, so this topology's Celery never takes the tasks of another (prod uses 3, the suite
# 8-15); emptied at the end.
TEST_REDIS_DB = 7


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Running, not a zombie (a daemon's exited parent may never be reaped here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid and stat[0] not in ("Z", "X"):
                    found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    found = children(pid)
    for child in list(found):
        found |= descendants(child)
    return found


@dataclass
class Prod:
    directory: Path
    env: dict[str, str]
    https_port: int
    http_port: int
    web_ports: dict[str, int]
    prometheus_port: int
    alertmanager_port: int

    @property
    def cert(self) -> str:
        return str(self.directory / "tls" / "cert.pem")

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.https_port}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), verify=self.cert, timeout=30, **kwargs)

    def make(self, target: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/usr/bin/supervisorctl", "-c", str(self.directory / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pid(self, program: str) -> int:
        return int(self.supervisorctl("pid", program).stdout.strip())

    def upstreams(self, marker: str) -> list[str]:
        """The web node that answered each logged request whose line holds `marker` ("-": nginx itself)."""
        lines = (self.directory / "log" / "nginx-access.log").read_text().splitlines()
        found = [re.search(r" upstream=(.*?) upstream_status=", line) for line in lines if marker in line]
        # "127.0.0.1:8101, 127.0.0.1:8102": the first refused, the last answered.
        return [m.group(1).split(", ")[-1] for m in found if m]

    def in_rotation(self, node: str) -> bool:
        marker = uuid.uuid4().hex
        for _ in range(4):
            self.get(f"/healthz?probe={marker}")
        return f"127.0.0.1:{self.web_ports[node]}" in self.upstreams(marker)

    def node_healthy(self, node: str) -> bool:
        with contextlib.suppress(requests.RequestException):
            return (
                requests.get(f"http://127.0.0.1:{self.web_ports[node]}/healthz", timeout=10).status_code
                == 200
            )
        return False


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> Iterator[Prod]:
    missing = [b for b in BINARIES if not os.access(b, os.X_OK)]
    if missing and os.geteuid() != 0:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make prod-up` once as root (it installs the Debian packages)"
        )
    directory = tmp_path_factory.mktemp("prod")
    https, http, web1, web2, prometheus, alertmanager = free_ports(6)
    database = f"safetrain_prod_test_{os.getpid()}"
    server = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", ""))
    netloc = server.netloc if server.scheme.startswith("postgres") else "postgres@127.0.0.1:5432"
    redis_server = urllib.parse.urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST_", "PROD_", "MAKE")) and k != "MFLAGS"
    }
    env.update(
        {
            "PROD_DIR": str(directory),
            "PROD_HTTPS_PORT": str(https),
            "PROD_HTTP_PORT": str(http),
            "PROD_WEB_PORTS": f"{web1},{web2}",
            "PROD_PROMETHEUS_PORT": str(prometheus),
            "PROD_ALERTMANAGER_PORT": str(alertmanager),
            "PROD_DATABASE_URL": f"postgres://{netloc}/{database}",
            "PROD_REDIS_URL": f"{redis_server.scheme}://{redis_server.netloc}/{TEST_REDIS_DB}",
            # pytest's temporary root is private to root (0700): nginx's workers could not write their request-body
            # buffers below it as www-data, the default in var/prod. They run as root here.
            "PROD_NGINX_USER": "root",
        }
    )
    prod = Prod(directory, env, https, http, {"web1": web1, "web2": web2}, prometheus, alertmanager)
    try:
        up = prod.make("prod-up", timeout=1200)
        if up.returncode != 0:
            pytest.fail(
                f"make prod-up failed (exit {up.returncode}):\n{up.stdout[-6000:]}\n{up.stderr[-6000:]}"
            )
        yield prod
    finally:
        down = prod.make("prod-down")
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(f"postgresql://{netloc}/postgres", autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(env["PROD_REDIS_URL"]).flushdb()
        assert down.returncode == 0, f"make prod-down failed:\n{down.stdout}\n{down.stderr}"


def test_the_site_answers_in_chinese_over_https_with_its_self_signed_certificate(prod):
    for host in ("127.0.0.1", "localhost"):  # both names are in the certificate
        response = requests.get(prod.url("/accounts/login/", host), verify=prod.cert, timeout=30)
        assert response.status_code == 200
        assert 'lang="zh-hans"' in response.text
    # Django knows it is served over HTTPS (SECURE_COOKIES, X-Forwarded-Proto): its cookies are Secure.
    assert "secure" in response.headers["Set-Cookie"].lower()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(prod.url("/healthz"), timeout=30)  # not trusted by default: self-signed


def test_plain_http_redirects_to_https(prod):
    response = requests.get(
        f"http://127.0.0.1:{prod.http_port}/accounts/login/?next=/learn/", allow_redirects=False, timeout=30
    )
    assert response.status_code == 301
    assert response.headers["Location"] == prod.url("/accounts/login/?next=/learn/")


def test_static_files_are_served_by_nginx_with_long_cache_headers(prod):
    page = prod.get("/accounts/login/").text
    assets = re.findall(r'(?:href|src)="(/static/[^"?]+\.[0-9a-f]{12}\.(?:css|js))"', page)
    assert assets, "the login page names no hashed static file"
    marker = uuid.uuid4().hex
    for asset in assets:
        response = prod.get(f"{asset}?probe={marker}")
        assert response.status_code == 200
        assert response.headers["Server"] == "nginx"
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]
        assert response.content == (prod.directory / "static" / asset.removeprefix("/static/")).read_bytes()
    # No request reached a web node: nginx answered every one itself.
    assert prod.upstreams(marker) == ["-"] * len(assets)
    assert prod.get("/static/staticfiles.json").status_code == 404


def test_requests_are_balanced_across_both_web_nodes(prod):
    marker = uuid.uuid4().hex
    for _ in range(20):
        assert prod.get(f"/healthz?probe={marker}").status_code == 200
    assert set(prod.upstreams(marker)) == {f"127.0.0.1:{port}" for port in prod.web_ports.values()}


@pytest.mark.parametrize("node", ["web1", "web2"])
def test_the_site_keeps_answering_while_one_web_node_is_stopped(prod, node):
    other = next(f"127.0.0.1:{p}" for n, p in prod.web_ports.items() if n != node)
    assert "stopped" in prod.supervisorctl("stop", node).stdout
    try:
        assert not port_open(prod.web_ports[node])
        marker = uuid.uuid4().hex
        for _ in range(10):
            response = prod.get(f"/accounts/login/?probe={marker}")
            assert response.status_code == 200
            assert 'lang="zh-hans"' in response.text
        assert set(prod.upstreams(marker)) == {other}
    finally:
        prod.supervisorctl("start", node)
        wait_for(lambda: prod.node_healthy(node), f"{node} answering again")
        # nginx leaves a node that refused connections out for fail_timeout (5 s): wait until it takes it back, so
        # that the next test may stop the other node.
        wait_for(lambda: prod.in_rotation(node), f"nginx sending requests to {node} again")


def test_metrics_are_not_reachable_through_nginx(prod):
    marker = uuid.uuid4().hex
    for path in ("/metrics", "/metrics/", f"/metrics?probe={marker}", "//metrics", "/static/../metrics"):
        response = prod.get(path + ("" if "?" in path else f"?probe={marker}"))
        assert response.status_code == 404, path
        assert "# TYPE" not in response.text
    assert set(prod.upstreams(marker)) == {"-"}  # nginx refused them; no web node was asked


def test_an_alert_reaches_the_platform_webhook_through_nginx_with_its_token(prod):
    alert = {
        "labels": {"alertname": "SafeTrainDeployProbe", "node": "web1", "severity": "warning"},
        "annotations": {"summary": "tests/test_deploy.py"},
    }
    alertmanager = f"http://127.0.0.1:{prod.alertmanager_port}"
    requests.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=30).raise_for_status()
    log = prod.directory / "log" / "nginx-access.log"

    def delivered() -> list[str]:
        lines = log.read_text().splitlines()
        return [line for line in lines if "POST /ops/alerts/webhook" in line and '"Alertmanager/' in line]

    # Alertmanager trusted nginx's self-signed certificate, and Django accepted its bearer token.
    line = wait_for(delivered, "Alertmanager posting to /ops/alerts/webhook")[0]
    assert re.search(r" upstream=127\.0\.0\.1:\d+ upstream_status=2\d\d ", line), line


def test_django_behind_nginx_checks_the_public_https_origin_and_takes_large_bodies(prod):
    session = requests.Session()
    page = session.get(prod.url("/accounts/login/"), verify=prod.cert, timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "username": "110101199003071234", "password": "wrong"}
    # Over HTTPS Django insists on a matching Origin or Referer: it sees the scheme nginx forwarded.
    assert (
        session.post(prod.url("/accounts/login/"), data=form, verify=prod.cert, timeout=30).status_code == 403
    )
    origin = {"Origin": prod.url("")}
    accepted = session.post(
        prod.url("/accounts/login/"), data=form, headers=origin, verify=prod.cert, timeout=30
    )
    assert accepted.status_code != 403
    assert 'lang="zh-hans"' in accepted.text
    # 3 MB: above nginx's default limit (1 MB) and its memory buffer, so nginx buffers it to a file first.
    large = session.post(
        prod.url("/accounts/login/"),
        data={**form, "junk": "a" * 3_000_000},
        headers=origin,
        verify=prod.cert,
        timeout=60,
    )
    assert large.status_code == accepted.status_code


def test_a_granian_worker_killed_with_sigkill_is_replaced_and_the_node_keeps_answering(prod):
    main = prod.pid("web1")
    workers = wait_for(lambda: children(main) if len(children(main)) == 2 else None, "two granian workers")
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: prod.node_healthy("web1"), "web1 answering with one worker")
    replaced = wait_for(
        lambda: len(children(main)) == 2 and victim not in children(main), "a new granian worker in web1"
    )
    assert replaced
    assert prod.pid("web1") == main  # the node itself was not restarted
    for _ in range(10):
        assert prod.node_healthy("web1")
    assert prod.get("/healthz").status_code == 200


def test_the_secrets_are_generated_once_and_private(prod):
    env_file = prod.directory / "env"
    values = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    for name in (
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
        "METRICS_TOKEN",
        "ALERT_WEBHOOK_TOKEN",
    ):
        assert len(values[name]) >= 32, name
    assert len(base64.urlsafe_b64decode(values["FIELD_ENCRYPTION_KEYS"])) == 32  # a Fernet key
    assert (prod.directory / "metrics.token").read_text() == values["METRICS_TOKEN"]
    assert (prod.directory / "alert-webhook.token").read_text() == values["ALERT_WEBHOOK_TOKEN"]
    for name in ("env", "metrics.token", "alert-webhook.token", "tls/key.pem", "supervisord.conf"):
        assert (prod.directory / name).stat().st_mode & 0o077 == 0, name


def test_prometheus_scrapes_both_web_nodes_directly_and_alerts_through_alertmanager(prod):
    prometheus = f"http://127.0.0.1:{prod.prometheus_port}"
    targets = requests.get(f"{prometheus}/api/v1/targets", timeout=30).json()["data"]["activeTargets"]
    web = {t["labels"]["node"]: t["scrapeUrl"] for t in targets if t["labels"]["job"] == "safetrain-web"}
    assert web == {node: f"http://127.0.0.1:{port}/metrics" for node, port in prod.web_ports.items()}
    assert {t["labels"]["job"] for t in targets} == {"safetrain-web", "prometheus", "alertmanager"}

    def every_web_node_scraped() -> bool:
        found = requests.get(f"{prometheus}/api/v1/targets", timeout=30).json()["data"]["activeTargets"]
        web_health = [t["health"] for t in found if t["labels"]["job"] == "safetrain-web"]
        return web_health == ["up", "up"]

    # With the token from metrics.token, against ALLOWED_HOSTS: both nodes answer Prometheus.
    wait_for(every_web_node_scraped, "Prometheus scraping both web nodes")
    wait_for(
        lambda: requests.get(f"{prometheus}/api/v1/alertmanagers", timeout=30).json()["data"][
            "activeAlertmanagers"
        ],
        "Prometheus finding its Alertmanager",
    )
    status = requests.get(f"http://127.0.0.1:{prod.alertmanager_port}/api/v2/status", timeout=30).json()
    assert prod.url("/ops/alerts/webhook") in status["config"]["original"]


def test_supervisorctl_shows_every_program_running(prod):
    result = prod.make("prod-status")
    assert result.returncode == 0, result.stdout + result.stderr
    for program in PROGRAMS:
        assert re.search(rf"^{re.escape(program)}\s+RUNNING", result.stdout, re.M), result.stdout
    worker_log = prod.directory / "log" / "celery-worker.log"
    wait_for(lambda: " ready." in worker_log.read_text(), "the Celery worker connected to Redis")


def test_prod_down_stops_every_process_and_closes_the_ports(prod):
    supervisord = int((prod.directory / "supervisord.pid").read_text())
    processes = {supervisord} | descendants(supervisord)
    assert len(processes) >= 1 + len(PROGRAMS)
    result = prod.make("prod-down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [pid for pid in processes if alive(pid)]
    ports = [
        prod.https_port,
        prod.http_port,
        *prod.web_ports.values(),
        prod.prometheus_port,
        prod.alertmanager_port,
    ]
    assert not [port for port in ports if port_open(port)]
    again = prod.make("prod-down")  # harmless when nothing runs
    assert again.returncode == 0
    assert "not running" in again.stdout
