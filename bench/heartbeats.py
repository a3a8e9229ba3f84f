"""Heartbeat benchmark (issue 4): N simulated learners with real study sessions send heartbeats to the server run
as in production (granian or gunicorn, PostgreSQL, Redis). Reports heartbeats/s, latency percentiles, the
PostgreSQL single-row UPDATE rate measured by pgbench in the same run, and checks that no credited second was lost
or doubled.

    .venv/bin/python bench/heartbeats.py --learners 2000 --seconds 60 --interval 2
    .venv/bin/python bench/heartbeats.py --learners 3000 --seconds 40 --interval 1 --busy-neighbour 1
    .venv/bin/python bench/heartbeats.py --learners 2000 --seconds 60 --interval 2 --server gunicorn

Needs the machine's PostgreSQL (creates and drops the database `safetrain_bench`) and Redis; targets 127.0.0.1 only
and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
SUMS = ("progress", "sessions", "daily", "records")
DB = "safetrain_bench"


def env_for(interval: float, socket_dir: str | None = None) -> dict[str, str]:
    """The server's environment. `socket_dir`: reach PostgreSQL over its Unix socket in that directory (a
    single-host deployment) instead of TCP on 127.0.0.1."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SAFETRAIN_ENV_FILE": "/nonexistent",
            "DATABASE_URL": f"postgres://postgres@/{DB}?host={socket_dir}" if socket_dir else f"{PG}/{DB}",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "BLIND_INDEX_KEY": "bench",
            "AUDIT_CHAIN_KEY": "bench",
            "AUDIT_CHECKPOINT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_COOKIES": "false",
            # plain HTTP on 127.0.0.1, straight to the web node (in production nginx in front terminates TLS)
            "SECURE_SSL_REDIRECT": "false",
            # (whole seconds on the server; a client beating more often is still credited in full at rate 1)
            "HEARTBEAT_INTERVAL_SECONDS": str(math.ceil(interval)),
            "API_TOKEN_IDLE_MINUTES": "120",
            "LOG_LEVEL": "WARNING",
            # The heartbeat path alone: face checks (a separate cost, bench/face_verify.py) are off.
            "FACE_CHECK_AT_LOGIN": "false",
            "FACE_CHECKS_WHILE_STUDYING": "false",
        }
    )
    return env


def run(cmd: list[str], env: dict[str, str] | None = None, **kw) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


PY = str(ROOT / ".venv" / "bin" / "python")


def shell_json(env: dict[str, str], code: str) -> dict:
    """Run code in `manage.py shell` and read the JSON it prints last."""
    return json.loads(run([PY, "manage.py", "shell", "-c", code], env).strip().splitlines()[-1])


def fresh_database(env: dict[str, str], setup_code: str) -> dict:
    """Drop and create the benchmark database, migrate it, collect the static files (the server is not ready
    without them, as in production), and run the set-up code (which prints JSON)."""
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"])
    run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {DB}"])
    run([PY, "manage.py", "migrate", "--noinput"], env)
    run([PY, "manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    return shell_json(env, setup_code)


def start_server(
    env: dict[str, str], port: int, workers: int, threads: int, kind: str = "gunicorn"
) -> subprocess.Popen:
    """The WSGI server on 127.0.0.1, in its own process group: gunicorn (gthread workers) or granian (Rust HTTP,
    WSGI interface, `threads` blocking threads per worker)."""
    if kind == "granian":
        command = [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--backlog",
            "4096",
            "--log-level",
            "warning",
            "--no-access-log",
            "config.wsgi:application",
        ]
    else:
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            # one keep-alive connection per simulated learner, as browsers hold them
            "--worker-connections",
            "4000",
            "--log-level",
            "warning",
        ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    # Ready when it answers (a busy machine may take far longer to start the workers than an idle one).
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise SystemExit(f"the {kind} server did not start")
        time.sleep(0.5)
    time.sleep(1)  # every worker up, not only the first
    return server


def stop_server(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass


SETUP = r"""
import json, sys
from django.contrib.auth.hashers import make_password
from django.db import transaction
from safetrain.accounts.identity import make_resident_id
from safetrain.accounts.models import AuthSession, Membership, User, id_index_of
from safetrain.catalog.models import RegionProfile, Video
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add, programme_course_add, programme_create, programme_publish
from safetrain.core.crypto import token_digest
from safetrain.learning.models import Enrolment
from safetrain.orgs.models import Organisation, Region
from safetrain.orgs.services import organisation_create
import datetime as dt
n = int(sys.argv[1])
with transaction.atomic():
    org = organisation_create(name="压测企业", kind="enterprise", region=Region.objects.get(code="440305"))
    video = Video.objects.create(title="bench", original="x.mp4", status="ready", duration_seconds=36000, hls_prefix="x")
    course = course_create(code="BENCH", title="压测课程")
    lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
    course_publish(course=course)
    profile = RegionProfile.objects.get(code="shenzhen_construction")
    profile.daily_cap_class_hours = 24; profile.save()
    programme = programme_create(code="bench", name="压测", profile=profile, kind="initial", audience="other", required_minutes=600)
    programme_course_add(programme=programme, course=course)
    programme_publish(programme=programme)
    password = make_password("Bench#2026")
    users = []
    for i in range(n):
        number = make_resident_id("440305", dt.date(1980, 1, 1) + dt.timedelta(days=i // 900), i % 900 + 100)
        users.append(User(id_number=number, id_index=id_index_of(number), name=f"学员{i}", password=password,
                          primary_organisation=org))
    User.objects.bulk_create(users, batch_size=500)
    users = list(User.objects.filter(primary_organisation=org).order_by("pk"))
    Membership.objects.bulk_create([Membership(user=u, organisation=org, role="learner") for u in users])
    today = dt.date.today()
    Enrolment.objects.bulk_create([Enrolment(learner=u, programme=programme, organisation=org, opened_on=today) for u in users])
    tokens = []
    for u in users:
        token = __import__("secrets").token_urlsafe(24)
        tokens.append(token)
    AuthSession.objects.bulk_create([AuthSession(user=u, kind="api", key_digest=token_digest(t)) for u, t in zip(users, tokens)])
print(json.dumps({"lesson": lesson.pk, "tokens": tokens}))
"""

TOTALS = r"""
import json
from django.db.models import Sum
from safetrain.learning.models import DailyCredit, LessonProgress, StudyRecord, StudySession
print(json.dumps({
    "progress": LessonProgress.objects.aggregate(s=Sum("credited_seconds"))["s"] or 0,
    "sessions": StudySession.objects.aggregate(s=Sum("credited_seconds"))["s"] or 0,
    "daily": DailyCredit.objects.aggregate(s=Sum("seconds"))["s"] or 0,
    "records": StudyRecord.objects.filter(kind="heartbeat").aggregate(s=Sum("credited_seconds"))["s"] or 0,
    "heartbeats": StudyRecord.objects.filter(kind="heartbeat").count(),
}))
"""


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_role(server_group: int) -> dict[str, float]:
    """CPU seconds used so far (user + system) by the server's processes, PostgreSQL's and this load generator,
    and the machine's idle and stolen seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "postgres": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime + stime, plus the reaped children's (a PostgreSQL backend that ended is in the postmaster's)
        seconds = sum(int(v) for v in fields[11:15]) / tick
        if int(fields[2]) == server_group:  # process group of the server (started in its own session)
            used["server"] += seconds
        elif cmdline.startswith((b"postgres", b"/usr/lib/postgresql")):
            used["postgres"] += seconds
    times = os.times()
    used["load_generator"] = times.user + times.system
    # The whole machine (/proc/stat): time left idle, and time the hypervisor gave to other guests (steal), which
    # is CPU this machine's two cores did not have.
    with open("/proc/stat") as f:
        machine = [int(v) / tick for v in f.readline().split()[1:]]
    used["idle"] = machine[3] + machine[4]
    used["steal"] = machine[7]
    return used


def cpu_probe(server_group: int):
    """Call once to start, call what it returns to get the cores each role used in between."""
    before, started = _cpu_by_role(server_group), time.monotonic()

    def cores() -> dict[str, float]:
        after, elapsed = _cpu_by_role(server_group), time.monotonic() - started
        return {role: round((after[role] - before[role]) / elapsed, 2) for role in before}

    return cores


class RawHttp:
    """One keep-alive HTTP/1.1 connection, as a browser holds one: hand-built requests, Content-Length replies.

    Much cheaper per request than aiohttp, so the load generator, which shares this machine with the server and
    PostgreSQL, takes less of the CPU it measures (its own share is reported)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.head = b""  # the last reply's status line and headers

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            self.head = head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            return status, await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def open_study(
    session: aiohttp.ClientSession, base: str, token: str, lesson: int, use_key: bool, results: dict
) -> tuple[int, dict[str, str]] | None:
    """Open the learner's study session as the player page does; its heartbeat key goes into the headers."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(
        f"{base}/api/v1/study-sessions", json={"lesson_id": lesson}, headers=headers
    ) as r:
        data = await r.json()
        if r.status != 200:
            results["open_errors"] += 1
            return None
    if use_key:
        # The player's way: the page's heartbeat key, as the API gave it; the hot path answers (core.hotpath).
        headers = {**headers, "X-Study-Key": data["heartbeat_key"]}
    return data["id"], headers


async def learner(
    http: RawHttp,
    sid: int,
    headers: dict[str, str],
    interval: float,
    first_at: float,
    until: float,
    latencies: list[float],
    results: dict,
) -> None:
    headers = {**headers, "Content-Type": "application/json"}
    path = f"/api/v1/study-sessions/{sid}/heartbeats"
    seq, position = 0, 0.0
    next_at = first_at
    # (a beat due at or after `until` is not sent: the run ends then, not an interval later)
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        seq += 1
        position += interval
        results["played"] += interval
        body = json.dumps(
            {"seq": seq, "position": position, "playing": True, "visible": True, "focused": True, "rate": 1}
        ).encode()
        started = time.perf_counter()
        try:
            # (asyncio.timeout, not wait_for: no extra task a request on the machine being measured)
            async with asyncio.timeout(60):
                status, reply = await http.request("POST", path, headers, body)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            http.close()
            results["errors"] += 1
            continue
        if status == 200:
            results["credited"] += json.loads(reply)["credited_seconds"]
            results["ok"] += 1
        else:
            results["errors"] += 1
        results["hot_path" if served_by(http.head, b"heartbeat") else "full_stack"] += 1
        latencies.append((time.perf_counter() - started) * 1000)


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted latencies (nan when there are none)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else math.nan


def latency_summary(latencies: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and the mean of the latencies in ms, rounded to 0.1 ms."""
    ordered = sorted(latencies)
    return {
        **{f"p{round(q * 100)}": round(percentile(ordered, q), 1) for q in (0.50, 0.95, 0.99)},
        "mean": round(statistics.fmean(ordered), 1) if ordered else None,
    }


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
_CREDITED = re.compile(rb'"credited_seconds": *([-0-9.eE+]+)')


def served_by(head: bytes, route: bytes) -> bool:
    """Whether the hot path's `route` answered the reply with this head: it names itself in Server-Timing
    (core.hotpath.dispatch); the full stack sends no such header."""
    return re.search(rb"\r\nserver-timing: *" + route + rb"[;,\r]", head, re.IGNORECASE) is not None


class EpollLearners:
    """The learners' beats from one loop over non-blocking sockets and epoll, with no event-loop machinery: the
    same schedule, bodies and closed loop as `learner` (each learner's beat k is due at its start + k * interval;
    beats due while the learner still waits for its previous reply go out one by one as the replies arrive), for
    a fraction of the CPU, which this process takes from the machine it measures."""

    TIMEOUT = 60.0

    def __init__(self, base: str, opened: list[tuple[int, dict[str, str]]], interval: float) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.interval = interval
        self.heads = []
        for sid, headers in opened:
            lines = [f"POST /api/v1/study-sessions/{sid}/heartbeats HTTP/1.1", f"Host: {host}"]
            lines += [f"{k}: {v}" for k, v in {**headers, "Content-Type": "application/json"}.items()]
            self.heads.append(("\r\n".join(lines) + "\r\nContent-Length: ").encode())
        n = len(opened)
        self.sockets: list[socket.socket | None] = [None] * n
        self.buffers = [b""] * n
        self.sent_at = [0.0] * n  # when the beat in flight went out (0: none in flight)
        self.pending = [0] * n  # beats that fell due while the previous one was in flight
        self.seq = [0] * n
        self.latencies: list[float] = []
        self.windows: list[list[float]] = []  # the latencies of the beats sent in each WINDOW seconds
        self.started = 0.0  # (perf_counter)
        self.results = {"ok": 0, "errors": 0, "credited": 0.0, "played": 0.0, "hot_path": 0, "full_stack": 0}

    WINDOW = 10.0

    def _connect(self, i: int) -> socket.socket:
        sock = socket.create_connection(self.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sockets[i] = sock
        self.by_fd[sock.fileno()] = i
        self.poller.register(sock.fileno(), select.EPOLLIN)
        return sock

    def _drop(self, i: int) -> None:
        """The beat in flight failed (closed, refused, timed out): an error; the learner goes on with its next."""
        sock = self.sockets[i]
        if sock is not None:
            self.poller.unregister(sock.fileno())
            del self.by_fd[sock.fileno()]
            sock.close()
        self.sockets[i], self.buffers[i], self.sent_at[i] = None, b"", 0.0
        self.results["errors"] += 1

    def _send(self, i: int) -> None:
        self.seq[i] += 1
        seq = self.seq[i]
        self.results["played"] += self.interval
        body = (
            f'{{"seq": {seq}, "position": {seq * self.interval}, "playing": true, "visible": true, '
            f'"focused": true, "rate": 1}}'
        ).encode()
        self.sent_at[i] = time.perf_counter()
        try:
            sock = self.sockets[i] or self._connect(i)
            sock.sendall(self.heads[i] + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            self._drop(i)

    def _next(self, i: int) -> None:
        """The learner's beat is answered or failed: send the one that fell due meanwhile, if any."""
        while self.pending[i] and not self.sent_at[i]:
            self.pending[i] -= 1
            self._send(i)

    def _receive(self, i: int) -> None:
        try:
            data = self.sockets[i].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data or not self.sent_at[i]:
            self._drop(i)  # closed, or an answer to nothing
            self._next(i)
            return
        buffer = self.buffers[i] = self.buffers[i] + data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = _CONTENT_LENGTH.search(buffer, 0, end + 2)
        size = end + 4 + (int(length.group(1)) if length else 0)
        if len(buffer) < size:
            return
        now = time.perf_counter()
        latency = (now - self.sent_at[i]) * 1000
        self.latencies.append(latency)
        window = int((self.sent_at[i] - self.started) // self.WINDOW)
        while len(self.windows) <= window:
            self.windows.append([])
        self.windows[window].append(latency)
        self.buffers[i], self.sent_at[i] = buffer[size:], 0.0
        if buffer[9:12] == b"200":
            self.results["ok"] += 1
            self.results["credited"] += float(_CREDITED.search(buffer, end).group(1))
        else:
            self.results["errors"] += 1
        self.results["hot_path" if served_by(buffer[: end + 2], b"heartbeat") else "full_stack"] += 1
        self._next(i)

    def run(self, seconds: float, server_group: int | None) -> dict:
        n = len(self.heads)
        self.poller = select.epoll()
        self.by_fd: dict[int, int] = {}
        for i in range(n):
            self._connect(i)
        probe = cpu_probe(server_group) if server_group else None
        self.started = time.perf_counter()
        started = time.monotonic()
        spacing, until = self.interval / n, started + seconds
        due = 0  # the next beat: learner due % n's, due at started + due * spacing
        checked = started
        while True:
            now = time.monotonic()
            while started + due * spacing <= now and started + due * spacing < until:
                i = due % n
                due += 1
                if self.sent_at[i]:
                    self.pending[i] += 1
                else:
                    self._send(i)
            next_at = started + due * spacing
            if next_at >= until and not any(self.sent_at):
                break  # every beat due before the end was sent and answered
            for fd, _event in self.poller.poll(max(0.0, next_at - now) if next_at < until else 0.5):
                self._receive(self.by_fd[fd])
            if now - checked > 1:  # beats unanswered for TIMEOUT seconds fail, as in `learner`
                checked, late = now, time.perf_counter() - self.TIMEOUT
                for i in range(n):
                    if 0 < self.sent_at[i] < late:
                        self._drop(i)
                        self._next(i)
        elapsed = time.monotonic() - started
        cores = probe() if probe else None
        for i in range(n):
            if self.sockets[i] is not None:
                self.sockets[i].close()
        self.poller.close()
        return {
            **self.results,
            "seconds": round(elapsed, 1),
            "rate": round(self.results["ok"] / elapsed, 1),
            **latency_summary(self.latencies),
            # where the slow replies were: the p99 of the beats sent in each WINDOW seconds of the run
            "p99_by_window": [
                round(percentile(sorted(window), 0.99), 1) if window else None for window in self.windows
            ],
            "cpu_cores": cores,
        }


async def load(
    base: str,
    tokens: list[str],
    lesson: int,
    interval: float,
    seconds: float,
    use_key: bool = True,
    server_group: int | None = None,
    client: str = "epoll",
    neighbour: float = 0.0,
    busy: int = 0,
) -> dict:
    """Every learner opens its study session first (not timed with the heartbeats); then all of them beat every
    `interval` seconds, spread evenly over the interval, for `seconds` (closed loop: a beat waits for its reply).
    client="epoll": the beats are sent by EpollLearners; "asyncio"/"uvloop": by one coroutine a learner.
    `neighbour`: a process burns that share of one core while they beat (a busy neighbour on the machine);
    `busy`: that many processes burn a whole core each meanwhile (`busy_neighbours`)."""
    latencies: list[float] = []
    results = {
        "ok": 0,
        "errors": 0,
        "open_errors": 0,
        "credited": 0.0,
        "played": 0.0,
        "hot_path": 0,
        "full_stack": 0,
    }
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        opening = time.monotonic()
        gate = asyncio.Semaphore(64)

        async def open_one(token: str):
            async with gate:
                return await open_study(session, base, token, lesson, use_key, results)

        opened = [o for o in await asyncio.gather(*(open_one(t) for t in tokens)) if o is not None]
        results["open_seconds"] = round(time.monotonic() - opening, 1)
    with busy_neighbour(neighbour, seconds + 10), busy_neighbours(busy, seconds + 70) as burning:
        if client == "epoll":
            result = {**results, **EpollLearners(base, opened, interval).run(seconds, server_group)}
        else:
            result = await _coroutine_learners(
                base, opened, interval, seconds, server_group, results, latencies
            )
    return {**result, "busy_neighbour": burning}


# Uses `share` of a core's CPU time in each tenth of a second (spinning, then sleeping for the rest of it) until
# the time is up: CPU time, not wall time, so it takes its share even while it has to wait for a core.
NEIGHBOUR = """
import sys, time
share, until = float(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    period, burnt = time.monotonic() + 0.1, time.process_time() + 0.1 * share
    while time.process_time() < burnt and time.monotonic() < until:
        pass
    time.sleep(max(0.0, period - time.monotonic()))
"""


@contextlib.contextmanager
def busy_neighbour(share: float, longest: float):
    """Another process taking `share` (0-1) of one core meanwhile; it stops at the end, and by itself after
    `longest` seconds whatever happens here."""
    if not share:
        yield None
        return
    if not 0 < share <= 1:
        raise SystemExit("--neighbour takes a share of one core, above 0 and at most 1")
    process = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(share), str(longest)])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


# Burns one core until the time is up.
BUSY = """
import sys, time
until = time.monotonic() + float(sys.argv[1])
while time.monotonic() < until:
    pass
"""


def _group_cpu(group: int) -> float:
    """CPU seconds used so far by the processes of a process group, with their reaped children's."""
    tick, used = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:
            used += sum(int(v) for v in fields[11:15]) / tick
    return used


@contextlib.contextmanager
def busy_neighbours(count: int, longest: float):
    """`count` processes burning a whole core each meanwhile (Debian's stress-ng CPU stressors when installed,
    else a Python loop), on the cores the benchmark runs on. They stop at the end of the block, and by themselves
    after `longest` seconds whatever happens here. Yields a dict, filled at the end: the tool, and the cores they
    used on average."""
    report: dict = {"processes": count}
    if count < 0:
        raise SystemExit("--busy-neighbour takes a number of processes, 0 or more")
    if not count:
        yield report
        return
    stress = shutil.which("stress-ng")
    if stress:
        commands = [[stress, "--cpu", str(count), "--timeout", f"{math.ceil(longest)}s", "--quiet"]]
    else:
        commands = [[sys.executable, "-c", BUSY, str(longest)] for _ in range(count)]
    report["tool"] = "stress-ng" if stress else "python busy loop"
    # each in a process group of its own: its CPU is summed over the group, and it is stopped by that group's id
    processes = [subprocess.Popen(command, start_new_session=True) for command in commands]
    started = time.monotonic()
    try:
        yield report
    finally:
        used = sum(_group_cpu(process.pid) for process in processes)
        report["cores"] = round(used / max(1e-9, time.monotonic() - started), 2)
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _coroutine_learners(base, opened, interval, seconds, server_group, results, latencies) -> dict:
    host, port = base.removeprefix("http://").split(":")
    connections = [RawHttp(host, int(port)) for _ in opened]
    probe = cpu_probe(server_group) if server_group else None
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(
            learner(
                http, sid, headers, interval, started + interval * i / len(opened), until, latencies, results
            )
            for i, (http, (sid, headers)) in enumerate(zip(connections, opened, strict=True))
        )
    )
    elapsed = time.monotonic() - started
    if probe:
        # Where the machine's two cores went while the learners beat.
        results["cpu_cores"] = probe()
    for http in connections:
        http.close()
    return {
        **results,
        "seconds": round(elapsed, 1),
        "rate": round(results["ok"] / elapsed, 1),
        **latency_summary(latencies),
    }


async def reference_load(base: str, clients: int, interval: float, seconds: float) -> dict:
    """The same closed-loop clients against GET /healthz (the whole middleware stack, one `SELECT 1`, one cache
    write and read): what this server can answer at all on this machine, the ceiling any heartbeat code has."""
    latencies: list[float] = []
    results = {"ok": 0, "errors": 0}
    until = time.monotonic() + seconds

    host, port = base.removeprefix("http://").split(":")

    async def client(index: int) -> None:
        http = RawHttp(host, int(port))
        next_at = time.monotonic() + interval * index / clients
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            started = time.perf_counter()
            try:
                async with asyncio.timeout(60):
                    status, _reply = await http.request("GET", "/healthz", {})
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                http.close()
                results["errors"] += 1
                continue
            results["ok" if status == 200 else "errors"] += 1
            latencies.append((time.perf_counter() - started) * 1000)
        http.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        **results,
        "seconds": round(elapsed, 1),
        "rate": round(results["ok"] / elapsed, 1),
        "p50": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99": round(percentile(latencies, 0.99), 1) if latencies else None,
    }


def run_loop(coroutine):
    """The load generator's event loop: uvloop (libuv, in C) unless --asyncio, so the clients, which share this
    machine with the server and PostgreSQL, take less of the CPU they measure (their share is reported)."""
    if LOOP == "uvloop":
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


LOOP = "uvloop"


def pgbench(seconds: int) -> float:
    run(
        [
            "psql",
            f"{PG}/{DB}",
            "-qc",
            "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
        ]
    )
    run(["pgbench", "-i", "-q", "-s", "1", f"{PG}/{DB}"])
    script = ROOT / "var" / "pgbench_update.sql"
    script.write_text(
        "\\set aid random(1, 100000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n"
    )
    out = run(["pgbench", "-n", "-c", "8", "-j", "2", "-T", str(seconds), "-f", str(script), f"{PG}/{DB}"])
    tps = next(line for line in out.splitlines() if line.startswith("tps"))
    return float(tps.split("=")[1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=None, help="per worker; default 2 (granian), 4 (gunicorn)"
    )
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    parser.add_argument(
        "--via",
        choices=("fast", "api"),
        default="fast",
        help="fast: heartbeats with the page's key, as the player sends them; api: without it (the API path)",
    )
    parser.add_argument(
        "--reference-seconds", type=int, default=0, help="then load GET /healthz the same way for this long"
    )
    parser.add_argument(
        "--client",
        choices=("epoll", "uvloop", "asyncio"),
        default="epoll",
        help="the load generator: one epoll loop over raw sockets (the cheapest), or a coroutine a learner on "
        "uvloop or on asyncio's own loop",
    )
    parser.add_argument(
        "--database-socket",
        metavar="DIR",
        help="the server reaches PostgreSQL over its Unix socket in DIR (e.g. /var/run/postgresql) instead of TCP",
    )
    parser.add_argument(
        "--neighbour",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="while the learners beat, another process burns this share of one core (0-1): a busy neighbour",
    )
    parser.add_argument(
        "--busy-neighbour",
        type=int,
        default=0,
        metavar="N",
        help="while the learners beat, N processes burn a whole core each (stress-ng if installed)",
    )
    args = parser.parse_args()
    global LOOP
    LOOP = "asyncio" if args.client == "asyncio" else "uvloop"
    if args.threads is None:
        args.threads = 2 if args.server == "granian" else 4
    env = env_for(args.interval, args.database_socket)
    setup = fresh_database(env, SETUP.replace("sys.argv[1]", str(args.learners)))
    port = 8765
    server = start_server(env, port, args.workers, args.threads, args.server)
    try:
        result = run_loop(
            load(
                f"http://127.0.0.1:{port}",
                setup["tokens"],
                setup["lesson"],
                args.interval,
                args.seconds,
                use_key=args.via == "fast",
                server_group=server.pid,
                client=args.client,
                neighbour=args.neighbour,
                busy=args.busy_neighbour,
            )
        )
        reference = (
            run_loop(
                reference_load(
                    f"http://127.0.0.1:{port}", args.learners, args.interval, args.reference_seconds
                )
            )
            if args.reference_seconds
            else None
        )
    finally:
        stop_server(server)
    totals = shell_json(env, TOTALS)
    tps = pgbench(20)
    report = {
        "learners": args.learners,
        "interval_s": args.interval,
        "offered_rate": round(args.learners / args.interval, 1),
        "server": f"{args.server} {args.workers}x{args.threads}",
        "via": args.via,
        "client": args.client,
        "neighbour_cores": args.neighbour,
        "database": f"unix socket in {args.database_socket}" if args.database_socket else "tcp 127.0.0.1",
        **result,
        "pgbench_update_tps": tps,
        "ratio_to_pgbench": round(result["rate"] / tps, 3),
        "healthz_reference": reference,
        "ratio_to_healthz": round(result["rate"] / reference["rate"], 3) if reference else None,
        "credited_client": round(result["credited"], 1),
        "credited_db": totals,
        # No credited second lost or doubled: the four places that hold credit agree to the millisecond, the
        # client saw no more than the database holds (a timed-out reply may hide a credit the server did give),
        # and no more was credited than the simulated players played (each beat advances its position by the
        # interval at rate 1).
        "consistent": max(totals[k] for k in SUMS) - min(totals[k] for k in SUMS) < 0.01,
        # (replies round each credit to the millisecond: allow that rounding per heartbeat)
        "client_not_above_db": result["credited"] <= totals["progress"] + 0.0005 * result["ok"] + 0.01,
        "within_played": totals["progress"] <= result["played"] + 0.01,
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))  # noqa: T201 - the report is the output
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"])
    return 0 if report["consistent"] and report["client_not_above_db"] and report["within_played"] else 1


if __name__ == "__main__":
    sys.exit(main())
