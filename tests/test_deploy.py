"""The production topology of `make prod-up` (deploy/): nginx with TLS in front of two granian web nodes, a Celery
worker and beat, Prometheus and Alertmanager, and the database: a pg_auto_failover formation (monitor, primary,
synchronous hot standby) with pgBackRest and restic backups, all under one supervisord, here on free ports in a
temporary PROD_DIR, beside any topology a developer runs. The last tests run the restore drill (newest, point in time,
a damaged backup) and lose the primary under load (bench/failover_drill.py).

The fixture runs the real `make prod-up` and `make prod-down`; the deadlines are generous (a busy 2-core machine).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.demo_server import wait_for

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = (
    "nginx",
    "web1",
    "web2",
    "celery-worker",
    "celery-backup",
    "celery-beat",
    "prometheus",
    "alertmanager",
    "pg-monitor",
    "pg-node1",
    "pg-node2",
)
BINARIES = (
    "/usr/sbin/nginx",
    "/usr/bin/supervisord",
    "/usr/bin/supervisorctl",
    "/usr/bin/prometheus",
    "/usr/bin/prometheus-alertmanager",
    "/usr/bin/pg_autoctl",
    "/usr/bin/pgbackrest",
    "/usr/bin/restic",
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
    database_ports: tuple[int, int]

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

    def make_with(
        self, target: str, *assignments: str, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", target, *assignments],
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
def prod() -> Iterator[Prod]:
    missing = [b for b in BINARIES if not os.access(b, os.X_OK)]
    if missing and os.geteuid() != 0:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make prod-up` once as root (it installs the Debian packages)"
        )
    # Not below pytest's temporary root (0700, root's): the database's account (postgres) must reach its folders.
    directory = Path(tempfile.mkdtemp(prefix="safetrain-prod-test-"))
    directory.chmod(0o755)
    https, http, web1, web2, prometheus, alertmanager, monitor, node1, node2 = free_ports(9)
    redis_server = urllib.parse.urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST_", "PROD_", "MAKE")) and k not in ("MFLAGS", "DATABASE_URL")
    }
    env.update(
        {
            "PROD_DIR": str(directory),
            "PROD_HTTPS_PORT": str(https),
            "PROD_HTTP_PORT": str(http),
            "PROD_WEB_PORTS": f"{web1},{web2}",
            "PROD_PROMETHEUS_PORT": str(prometheus),
            "PROD_ALERTMANAGER_PORT": str(alertmanager),
            "PROD_PG_PORTS": f"{monitor},{node1},{node2}",
            "PROD_REDIS_URL": f"{redis_server.scheme}://{redis_server.netloc}/{TEST_REDIS_DB}",
            # nginx's workers run as root here, as before this topology had folders of its own.
            "PROD_NGINX_USER": "root",
            # No demo data: its videos' transcoding is the costliest part of prod-up, and no test here needs it.
            "PROD_SEED_DEMO": "0",
        }
    )
    # The failover drill measures the database, not cameras: no face check before an exam or while studying.
    (directory / "env").write_text(
        "FACE_CHECK_AT_LOGIN=false\nFACE_CHECK_AT_EXAM=false\nFACE_CHECKS_WHILE_STUDYING=false\n"
    )
    (directory / "env").chmod(0o600)
    prod = Prod(
        directory, env, https, http, {"web1": web1, "web2": web2}, prometheus, alertmanager, (node1, node2)
    )
    try:
        up = prod.make("prod-up", timeout=1500)
        if up.returncode != 0:
            pytest.fail(
                f"make prod-up failed (exit {up.returncode}):\n{up.stdout[-6000:]}\n{up.stderr[-6000:]}"
            )
        yield prod
    finally:
        down = prod.make("prod-down")
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(env["PROD_REDIS_URL"]).flushdb()
        if down.returncode == 0:
            shutil.rmtree(directory, ignore_errors=True)
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


# Data safety (issue 25): the formation, the backups, the restore drill, the failover under load ----------------------
def metric(prod: Prod, name: str, **labels: str) -> float | None:
    """A value of the web1 node's /metrics (with the scrape token), None when the series is absent."""
    token = (prod.directory / "metrics.token").read_text()
    text = requests.get(
        f"http://127.0.0.1:{prod.web_ports['web1']}/metrics",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).text
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def pgbackrest(prod: Prod, *args: str) -> subprocess.CompletedProcess[str]:
    config = prod.directory / "pgbackrest.conf"
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={config}", "--stanza=safetrain", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd="/tmp",
    )


def sql(prod: Prod, port: int, query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="safetrain", autocommit=True, connect_timeout=10
    ) as connection:
        cursor = connection.execute(query)
        return cursor.fetchall() if cursor.description else []


def primary_port(prod: Prod) -> int:
    for port in prod.database_ports:
        with contextlib.suppress(Exception):
            if sql(prod, port, "SELECT NOT pg_is_in_recovery()")[0][0]:
                return port
    raise AssertionError("no primary answers")


def test_ops_04_the_database_is_a_primary_with_a_synchronous_hot_standby(prod):
    primary = primary_port(prod)
    standby = next(p for p in prod.database_ports if p != primary)
    assert sql(prod, standby, "SELECT pg_is_in_recovery()")[0][0] is True
    # pg_auto_failover names the standby in synchronous_standby_names: a commit waits for it.
    assert "pgautofailover_standby" in sql(prod, primary, "SHOW synchronous_standby_names")[0][0]
    states = sql(prod, primary, "SELECT state, sync_state FROM pg_stat_replication")
    assert states == [("streaming", "quorum")]
    assert sql(prod, primary, "SHOW synchronous_commit")[0][0] == "on"
    assert sql(prod, primary, "SHOW archive_mode")[0][0] == "on"
    assert metric(prod, "safetrain_database_standbys_streaming") == 1
    assert metric(prod, "safetrain_database_standbys_expected") == 1


def test_ops_03_prod_up_took_the_first_backups_into_both_repositories_and_of_the_media(prod):
    info = json.loads(pgbackrest(prod, "--output=json", "info").stdout)[0]
    assert info["status"]["code"] == 0, info["status"]
    fulls = {b["database"]["repo-key"] for b in info["backup"] if b["type"] == "full"}
    assert fulls == {1, 2}
    check = pgbackrest(prod, "check")  # the primary's WAL reaches both repositories now
    assert check.returncode == 0, check.stdout + check.stderr
    for target, repo in (("database", "1"), ("database", "2"), ("media", "0"), ("media", "2")):
        assert metric(prod, "safetrain_backup_last_success_timestamp_seconds", target=target, repo=repo), (
            target,
            repo,
        )
    assert metric(prod, "safetrain_backup_configured", target="database") == 1
    assert metric(prod, "safetrain_backup_configured", target="media") == 1


def drill(prod: Prod, *args: str) -> subprocess.CompletedProcess[str]:
    return prod.make_with("restore-drill", f"DRILL_ARGS={' '.join(args)}", timeout=900)


def test_ops_03_the_restore_drill_restores_the_newest_backup_verifies_it_and_records_rto_and_rpo(prod):
    result = drill(prod)
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("pgbackrest verify", "pgbackrest restore", "recovery", "restic restore --verify"):
        assert step in result.stdout
    assert "all records match their seals" in result.stdout
    assert "audit chain OK" in result.stdout
    assert "every media file matches its record" in result.stdout
    rto, rpo = (float(x) for x in re.search(r"RTO ([\d.]+) s .*RPO ([\d.]+) s", result.stdout).groups())
    assert 0 < rto < 900
    assert 0 <= rpo < 24 * 3600
    assert not list((prod.directory / "drill").glob("*/pg")), "the scratch copy was not removed"
    assert metric(prod, "safetrain_restore_drill_last_ok") == 1
    assert metric(prod, "safetrain_restore_drill_last_rto_seconds") == pytest.approx(rto, abs=0.2)


def test_ops_03_the_off_site_copies_alone_restore_the_platform(prod):
    result = drill(prod, "--repo", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restore drill: repo2" in result.stdout
    assert "RESTORE DRILL PASSED" in result.stdout
    media = json.loads(
        subprocess.run(
            [
                "restic",
                *("--repo", str(prod.directory / "backup" / "offsite" / "restic")),
                *("--password-file", str(prod.directory / "restic.password")),
                *("snapshots", "--json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    assert media, "no media snapshot was copied off site"
    assert f"snapshot {media[-1]['short_id']}" in result.stdout


def test_ops_03_a_point_in_time_restore_stops_at_the_requested_moment(prod):
    primary = primary_port(prod)
    sql(prod, primary, "CREATE TABLE IF NOT EXISTS drill_marker (at timestamptz DEFAULT clock_timestamp())")
    sql(prod, primary, "INSERT INTO drill_marker DEFAULT VALUES")
    time.sleep(2)
    target = sql(prod, primary, "SELECT clock_timestamp()")[0][0]
    time.sleep(2)
    sql(prod, primary, "INSERT INTO drill_marker DEFAULT VALUES")
    sql(prod, primary, "SELECT pg_switch_wal()")  # the WAL with both rows goes to the repositories now
    result = drill(prod, "--target-time", f"'{target.isoformat()}'")
    assert result.returncode == 0, result.stdout + result.stderr
    newest = re.search(r"newest restored transaction (\S+ \S+) UTC", result.stdout).group(1)
    assert "before the target time" in result.stdout
    restored = datetime.datetime.fromisoformat(newest + "+00:00")
    # Recovery stopped at the target: the first row's commit is in, the second's (2 s later) is not.
    assert target - datetime.timedelta(seconds=4) < restored <= target


def test_ops_03_a_damaged_backup_is_reported_and_never_restored(prod):
    repository = prod.directory / "backup" / "repo1" / "backup" / "safetrain"
    newest = sorted(p for p in repository.iterdir() if re.match(r"\d{8}-\d{6}F", p.name))[-1]
    victim = max((newest / "pg_data" / "base").rglob("*.zst"), key=lambda f: f.stat().st_size)
    original = victim.read_bytes()
    victim.write_bytes(original[:100] + bytes(b ^ 0xFF for b in original[100:120]) + original[120:])
    try:
        result = drill(prod)
    finally:
        victim.write_bytes(original)
    assert result.returncode != 0
    assert "RESTORE DRILL FAILED" in result.stdout
    assert "damaged" in result.stdout
    assert "nothing restored" in result.stdout
    assert "pgbackrest restore" not in result.stdout  # stopped before restoring anything
    assert metric(prod, "safetrain_restore_drill_last_ok") == 0
    # The failed drill is in the alarm log, which operators see at /ops/alarms/.
    alarms = sql(prod, primary_port(prod), "SELECT name, status FROM integrations_alarm")
    assert ("RestoreDrillFailed", "firing") in alarms


def test_ops_04_the_primary_lost_under_load_fails_over_and_no_acknowledged_answer_is_lost(prod):
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "bench/failover_drill.py",
            *("--candidates", "12", "--learners", "12", "--seconds", "50", "--kill-at", "10", "--rejoin"),
        ],
        cwd=ROOT,
        env=prod.env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["answers_acknowledged"] > 50
    assert report["answers_lost"] == 0
    assert report["answers_wrong"] == 0
    assert report["heartbeats_acknowledged"] > 0
    assert report["credited_in_sessions_s"] <= report["credited_told_s"] + 0.01
    assert report["writes_failed"] > 0  # the loss was felt, then healed without anyone's help
    assert report["formation_rejoined"] == {
        report["killed"]: "secondary",
        **{n: "primary" for n in ("node1", "node2") if n != report["killed"]},
    }
    assert prod.get("/healthz").status_code == 200
    # The new primary archives its WAL to both repositories, and the next backup is taken from it.
    check = pgbackrest(prod, "check")
    assert check.returncode == 0, check.stdout + check.stderr


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
        *prod.database_ports,
    ]
    assert not [port for port in ports if port_open(port)]
    again = prod.make("prod-down")  # harmless when nothing runs
    assert again.returncode == 0
    assert "not running" in again.stdout
