"""Faults are answered, never a 500 (OPS-01: the platform runs 7x24; issue 24). Real processes: the production server
(granian, two workers, `--respawn-failed-workers`, DEBUG off) on a PostgreSQL cluster and a Redis of its own, started
in a temporary folder for this module, so that they can be stopped under it:

- PostgreSQL stopped hard: every kind of request (API, exam answer, heartbeat through Django and through the fast path,
  page, sign-in) is a 503, and when PostgreSQL is back the same server answers them again with nothing acknowledged
  lost.
- Redis stopped: signing in (form and API) still works, since sessions, captchas and lockouts are in the database;
  no page is a 500.
- A worker killed with SIGKILL: granian starts another, the server keeps answering, nothing acknowledged is lost.

Every wait is a deadline with polling: the tests never depend on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.demo_server import DemoServer, free_port, start_demo_server, wait_for


def _newest_postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


PG_BIN = _newest_postgres_bin()
REDIS_SERVER = shutil.which("redis-server")
AS_ROOT = os.geteuid() == 0

MISSING = [
    name
    for name, found in (
        ("PostgreSQL's server binaries (initdb, pg_ctl)", PG_BIN),
        ("redis-server", REDIS_SERVER),
        ("runuser (PostgreSQL refuses to run as root)", not AS_ROOT or shutil.which("runuser")),
    )
    if not found
]


@pytest.fixture(scope="module", autouse=True)
def _binaries() -> None:
    """Never skipped: without them the faults are unproven, so the test fails and says what to install."""
    if MISSING:
        pytest.fail(f"missing {', '.join(MISSING)}: install Debian's postgresql and redis-server")


DEADLINE = 60.0  # seconds; generous: two busy cores


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> object:
    """A connection refused or dropped while a process restarts counts as not yet."""
    return wait_for(condition, what, timeout, ignoring=(OSError, HTTPException))


# The backing services ------------------------------------------------------------------------------------------


class Postgres:
    """A private cluster: trust authentication, TCP on 127.0.0.1 and a socket in its own folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/safetrain"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if AS_ROOT:  # initdb and pg_ctl refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=180)
        if check and result.returncode != 0:
            log = self.root / "postgres.log"
            raise AssertionError(
                f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}\n"
                f"{log.read_text() if log.exists() else ''}"
            )
        return result

    def init(self) -> None:
        if AS_ROOT:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"
        )
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "safetrain")

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "120",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: as a crash; the next start recovers from the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def shut_down(self) -> None:
        for mode in ("fast", "immediate"):
            if self.data.exists() and self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)


class Redis:
    """A private redis-server that keeps nothing on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.root / "redis.log", "a")  # noqa: SIM115 - the server process holds it
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, "redis-server answers PING")

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def worker_pids(server: DemoServer) -> set[int]:
    """granian's worker processes: the live children of its main process."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # a process that ended while we looked
        if int(ppid) == server.process.pid and state != "Z":
            pids.add(int(stat.parent.name))
    return pids


def listening_workers(server: DemoServer) -> set[int]:
    """The workers that accept connections: on Linux each granian worker, once its application is loaded, listens
    on the port with a socket of its own (SO_REUSEPORT)."""
    port = f":{urllib.parse.urlsplit(server.url).port:04X}"
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(port) and fields[3] == "0A":  # 0A: LISTEN
                    sockets.add(f"socket:[{fields[9]}]")
    listening = set()
    for pid in worker_pids(server):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in Path(f"/proc/{pid}/fd").iterdir()):
                listening.add(pid)
    return listening


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    # Not under pytest's tmp folder: that one is private to root, and the cluster runs as the postgres user.
    pg = Postgres(Path(tempfile.mkdtemp(prefix="safetrain-faults-pg-")))
    try:
        pg.init()
        yield pg
    finally:
        pg.shut_down()
        shutil.rmtree(pg.root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, postgres, redis) -> Iterator[DemoServer]:
    # Celery eager (no broker, no worker): settings make CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL.
    demo = start_demo_server(
        tmp_path_factory.mktemp("faults"),
        workers=2,
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        CELERY_BROKER_URL="",
    )
    started = worker_pids(demo)
    try:
        yield demo
    finally:
        workers = started | worker_pids(demo)
        demo.process.terminate()
        try:
            demo.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.process.kill()
            demo.process.wait(timeout=30)
        port = f"\0{urllib.parse.urlsplit(demo.url).port}\0".encode()
        for pid in workers:  # a worker its main process left behind: by its own id, if it is still ours
            with contextlib.suppress(OSError):
                if port in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _everything_up(server, postgres, redis) -> Iterator[None]:
    """Each test starts with the whole stack healthy and leaves it so, even when it fails half-way."""
    yield
    if not postgres.running():
        postgres.start()
    if not redis.running():
        redis.start()
    wait_until(lambda: get(server, "/healthz").status == 200, "the server is healthy again")


# HTTP clients ----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> dict:
        return json.loads(self.body or b"{}")

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers.get('Content-Type')} {self.text[:300]!r}>"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


@dataclass
class Client:
    """A browser (cookies, forms) or an API client (bearer token); one new connection per request."""

    url: str
    token: str = ""
    jar: CookieJar = field(default_factory=CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects)

    def request(
        self, method: str, path: str, body: dict | None = None, *, form: dict | None = None, **headers: str
    ) -> Answer:
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())


def get(server: DemoServer, path: str) -> Answer:
    return Client(server.url).request("GET", path)


def account(server: DemoServer, role: str, organisation: str = "") -> dict[str, str]:
    return next(
        a
        for a in server.accounts
        if a["role"] == role and (not organisation or a["organisation"] == organisation)
    )


def form_sign_in(browser: Client, who: dict[str, str], password: str = "") -> Answer:
    page = browser.request("GET", "/accounts/login/")
    assert page.status == 200, page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return browser.request(
        "POST",
        "/accounts/login/",
        form={
            "csrfmiddlewaretoken": token,
            "username": who["username"],
            "password": password or who["password"],
        },
    )


def api_sign_in(server: DemoServer, who: dict[str, str], password: str = "") -> Answer:
    return Client(server.url).request(
        "POST", "/api/v1/auth/login", {"username": who["username"], "password": password or who["password"]}
    )


def same_site_links(page: Answer) -> list[str]:
    return sorted(
        {link for link in re.findall(r'href="(/[^"#?]*)"', page.text) if not link.startswith("/static/")}
    )


@dataclass
class Exam:
    learner: Client
    attempt_id: int
    questions: list[int]
    page_key: str  # sent as the exam page sends it: answers take the hot path

    def save(self, question: int, value: list[int]) -> Answer:
        return self.learner.request(
            "PUT",
            f"/api/v1/attempts/{self.attempt_id}/answers/{question}",
            {"value": value},
            **{"X-Exam-Key": self.page_key},
        )

    def saved(self) -> dict[int, list[int] | None]:
        paper = self.learner.request("GET", f"/api/v1/attempts/{self.attempt_id}")
        assert paper.status == 200, paper
        return {q["id"]: q["answer"] for q in paper.json()["questions"]}


def learner_with_mock_exam(server: DemoServer, number: int) -> Exam:
    """The number-th learner of the demo's construction teams, signed in over the API (the initial password
    changed), with a mock exam open (mock exams need no finished study and are never counted)."""
    who = [
        a for a in server.accounts if a["role"] == "learner" and a["organisation"] in {"钢筋班组", "木工班组"}
    ][number]
    signed_in = api_sign_in(server, who)
    assert signed_in.status == 200, signed_in
    learner = Client(server.url, token=signed_in.json()["token"])
    changed = learner.request(
        "PUT", "/api/v1/auth/password", {"old_password": who["password"], "new_password": "Faults#2026ok"}
    )
    assert changed.status == 200, changed
    enrolments = learner.request("GET", "/api/v1/enrollments")
    assert enrolments.status == 200, enrolments
    code = enrolments.json()[0]["programme_code"]
    attempt = learner.request("POST", f"/api/v1/exams/{code}/attempts", {"kind": "mock"})
    assert attempt.status == 200, attempt
    paper = attempt.json()
    return Exam(learner, paper["id"], [q["id"] for q in paper["questions"]], paper["page_key"])


class Player:
    """A playing video page: heartbeats through the full stack (no key) or the fast path (the page's key)."""

    def __init__(self, exam: Exam) -> None:
        self.learner = exam.learner
        enrolments = self.learner.request("GET", "/api/v1/enrollments").json()
        lesson = next(
            lesson
            for enrolment in enrolments
            for course in enrolment["courses"]
            for lesson in course["lessons"]
            if lesson["duration_seconds"] > 15
        )
        opened = self.learner.request("POST", "/api/v1/study-sessions", {"lesson_id": lesson["id"]})
        assert opened.status == 200, opened
        self.session = opened.json()
        self.seq = 0
        self.started = time.monotonic()

    def beat(self, *, fast: bool) -> Answer:
        self.seq += 1
        body = {
            "seq": self.seq,
            "position": self.session["resume_position"] + min(time.monotonic() - self.started, 10.0),
            "playing": True,
            "visible": True,
            "focused": True,
            "rate": 1,
        }
        headers = {"X-Study-Key": self.session["heartbeat_key"]} if fast else {}
        return self.learner.request(
            "POST", f"/api/v1/study-sessions/{self.session['id']}/heartbeats", body, **headers
        )


def assert_api_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.headers["Content-Type"].startswith("application/json"), answer
    assert answer.json()["code"] == "service_unavailable", answer
    assert answer.headers["Retry-After"], answer


def assert_page_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.headers["Content-Type"].startswith("text/html"), answer
    assert answer.headers["Retry-After"], answer
    assert "服务暂时不可用" in answer.text, answer
    assert answer.headers["Content-Language"] == "zh-hans", answer


# The tests -------------------------------------------------------------------------------------------------------


def test_ops_01_with_postgresql_stopped_every_request_is_a_503_and_afterwards_nothing_acknowledged_is_lost(
    server, postgres
):
    exam = learner_with_mock_exam(server, 0)
    acknowledged = {}
    for n, question in enumerate(exam.questions[:10]):
        saved = exam.save(question, [n % 2])
        assert saved.status == 200, saved
        assert saved.headers.get("Server-Timing", "").startswith("exam_answer"), saved  # the hot path's
        acknowledged[question] = [n % 2]
    player = Player(exam)
    # (the keyed beat first: one right after another beat is flagged too fast, which only the full stack writes)
    fast = player.beat(fast=True)
    assert fast.status == 200, fast
    assert "heartbeat;dur=" in fast.headers.get("Server-Timing", "")  # answered by the hot path
    assert player.beat(fast=False).status == 200
    admin = account(server, "enterprise_admin", "深圳市安建建设集团有限公司")
    browser = Client(server.url)
    assert form_sign_in(browser, admin).status == 302
    desk = browser.request("GET", "/")
    assert desk.status == 200, desk
    pages = same_site_links(desk)
    assert len(pages) > 5
    prober = account(server, "learner", "广州市明达商贸有限公司")
    workers = worker_pids(server)

    postgres.stop("immediate")
    try:
        assert_api_unavailable(exam.learner.request("GET", "/api/v1/me"))
        assert_api_unavailable(exam.save(exam.questions[10], [1]))
        assert_api_unavailable(exam.learner.request("GET", f"/api/v1/attempts/{exam.attempt_id}"))
        assert_api_unavailable(player.beat(fast=False))  # no key: Django's heartbeat API
        # With the key: the hot path answers its own 503, or, when the connection it held broke during its
        # read (nothing written), hands the beat to the full stack, which answers the API's 503.
        fast = player.beat(fast=True)
        assert fast.status == 503, fast
        assert fast.json()["code"] in {"unavailable", "service_unavailable"}, fast
        assert_page_unavailable(browser.request("GET", "/"))
        for page in pages:
            assert_page_unavailable(browser.request("GET", page))
        # The anonymous sign-in page needs no database and is still shown; signing in is a 503.
        assert_page_unavailable(form_sign_in(Client(server.url), prober))
        assert_api_unavailable(api_sign_in(server, prober))
        health = get(server, "/healthz")
        assert health.status == 503, health
        assert health.json()["database"].startswith("error"), health
        # Prometheus still scrapes the node, and reads the outage (the DatabaseDown alert) and the 503s.
        metrics = get(server, "/metrics")
        assert metrics.status == 200, metrics
        assert "\nsafetrain_database_up 0.0\n" in metrics.body.decode()
        assert 'status="5xx"' in metrics.body.decode()
    finally:
        postgres.start()

    wait_until(lambda: get(server, "/healthz").status == 200, "/healthz is ok once PostgreSQL is back")
    # The same processes answer again: their connections were opened anew, nobody restarted them.
    assert worker_pids(server) == workers
    assert exam.saved()[exam.questions[10]] is None  # the answer refused with a 503 was not half-saved
    for _ in range(3):  # several requests, so that more than one worker thread and connection are met
        me = exam.learner.request("GET", "/api/v1/me")
        assert me.status == 200, me
        assert browser.request("GET", "/").status == 200
        assert player.beat(fast=False).status == 200
        assert player.beat(fast=True).status == 200
    retried = exam.save(exam.questions[10], [1])  # what was refused with a 503 is simply sent again
    assert retried.status == 200, retried
    acknowledged[exam.questions[10]] = [1]
    assert form_sign_in(Client(server.url), admin).status == 302
    assert api_sign_in(server, prober).status == 200
    saved = exam.saved()
    assert {question: saved[question] for question in acknowledged} == acknowledged


def test_ops_01_with_redis_stopped_signing_in_works_and_no_page_is_a_500(server, redis):
    exam = learner_with_mock_exam(server, 1)
    player = Player(exam)
    admin = account(server, "enterprise_admin", "南山科技园二期项目")
    prober = account(server, "learner", "广州市明达商贸有限公司")

    redis.stop()
    try:
        health = get(server, "/healthz")
        assert health.status == 503, health
        assert health.json()["cache"].startswith("error"), health
        assert health.json()["database"] == "ok"
        # Sign-in through the form: a wrong password is refused as usual, the right one signs in.
        refused = form_sign_in(Client(server.url), prober, password="Wrong#Pass1")
        assert refused.status == 400, refused
        assert "证件号码或密码不正确" in refused.text
        browser = Client(server.url)
        signed_in = form_sign_in(browser, admin)
        assert signed_in.status == 302, signed_in
        assert signed_in.headers["Location"] == "/"
        desk = browser.request("GET", "/")
        assert desk.status == 200, desk
        assert admin["name"] in desk.text
        for page in same_site_links(desk):  # pages that need Redis may be a 503, none is a 500
            answer = browser.request("GET", page)
            assert answer.status < 500 or answer.status == 503, (page, answer)
        # Sign-in through the API.
        refused = api_sign_in(server, prober, password="Wrong#Pass1")
        assert refused.status == 401, refused
        assert refused.json()["code"] == "invalid_credentials"
        signed_in = api_sign_in(server, prober)
        assert signed_in.status == 200, signed_in
        me = Client(server.url, token=signed_in.json()["token"]).request("GET", "/api/v1/me")
        assert me.status == 200, me
        # The learner's work goes on, or at worst is a 503: never a 500.
        during = exam.save(exam.questions[0], [1])
        assert during.status in {200, 503}, during
        for fast in (False, True):
            beat = player.beat(fast=fast)
            assert beat.status in {200, 503}, beat
    finally:
        redis.start()

    wait_until(lambda: get(server, "/healthz").status == 200, "/healthz is ok once Redis is back")
    assert form_sign_in(Client(server.url), admin).status == 302
    assert api_sign_in(server, prober).status == 200
    saved = exam.save(exam.questions[1], [0])
    assert saved.status == 200, saved
    assert player.beat(fast=False).status == 200
    answers = exam.saved()
    assert answers[exam.questions[1]] == [0]
    assert answers[exam.questions[0]] == ([1] if during.status == 200 else None)


def test_ops_01_a_killed_worker_is_replaced_and_no_acknowledged_answer_is_lost(server):
    exam = learner_with_mock_exam(server, 2)
    acknowledged: dict[int, list[int]] = {}
    for n, question in enumerate(exam.questions[:5]):
        saved = exam.save(question, [n % 2])
        assert saved.status == 200, saved
        assert saved.headers.get("Server-Timing", "").startswith("exam_answer"), saved  # the hot path's
        acknowledged[question] = [n % 2]
    originals = worker_pids(server)
    assert len(originals) == 2, originals
    wait_until(lambda: listening_workers(server) == originals, "both workers listen")

    # A learner keeps answering while the workers are killed: each answer to a question of its own.
    stop, refused, server_errors = threading.Event(), [], []

    def answering() -> None:
        for n, question in enumerate(exam.questions[5:]):
            if stop.is_set():
                return
            try:
                saved = exam.save(question, [n % 2])
            except (OSError, HTTPException) as error:  # the worker holding the connection died
                refused.append(repr(error))
            else:
                if saved.status == 200:
                    acknowledged[question] = [n % 2]
                elif saved.status == 500:
                    server_errors.append(saved)
                else:
                    refused.append(saved.status)
            time.sleep(0.2)

    writer = threading.Thread(target=answering, daemon=True)
    writer.start()
    try:
        wait_until(lambda: len(acknowledged) >= 8, "answers are being saved")
        # Both original workers, one after the other, each once its replacement listens: the other one answers
        # meanwhile, and in the end only respawned workers are left to answer.
        for victim in sorted(originals):
            os.kill(victim, signal.SIGKILL)
            wait_until(
                lambda victim=victim: (
                    (now := listening_workers(server)) and victim not in now and len(now) == 2
                ),
                f"granian replaces worker {victim} and the new one listens",
            )
    finally:
        stop.set()
        writer.join(timeout=DEADLINE)
    assert not writer.is_alive()

    assert server.process.poll() is None  # the main process itself kept running
    assert not worker_pids(server) & originals
    wait_until(lambda: exam.learner.request("GET", "/api/v1/me").status == 200, "the new workers answer")
    for _ in range(10):  # after the respawn every request succeeds
        for answer in (exam.learner.request("GET", "/api/v1/me"), get(server, "/healthz")):
            assert answer.status == 200, answer
    assert not server_errors, (server_errors, refused)
    saved = exam.saved()
    assert len(acknowledged) > 8
    assert {question: saved[question] for question in acknowledged} == acknowledged
