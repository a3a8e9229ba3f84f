"""The `make run` path as a fixture: a fresh SQLite database, `migrate`, `seed_demo`, `collectstatic`, and the
production server (granian, DEBUG off, hashed static files) in a real process."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def demo_env(workdir: Path, **overrides: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "REDIS_", "CELERY_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SAFETRAIN_ENV_FILE": "/nonexistent",
            "DATABASE_URL": f"sqlite:///{workdir / 'demo.sqlite3'}",
            "MEDIA_ROOT": str(workdir / "media"),
            "STATIC_ROOT": str(workdir / "static"),
            "DEBUG": "false",
            "SECRET_KEY": "demo-path-test-secret-key-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": "6oPNn1nwuQlN3jnuex50SuZcPvXSkEymXL8WzX6UfzU=",
            "BLIND_INDEX_KEY": "demo-path-blind-index-key",
            "AUDIT_CHAIN_KEY": "demo-path-audit-chain-key",
            "AUDIT_CHECKPOINT_KEY": "ZGVtby1wYXRoLWNoZWNrcG9pbnQta2V5LTAxMjM0NTY=",
            "REQUIRE_2FA_FOR_STAFF": "false",
            "SECURE_COOKIES": "false",
            # Plain HTTP on 127.0.0.1, as `make run`: no redirect to HTTPS; the demo's own real-name system.
            "SECURE_SSL_REDIRECT": "false",
            "REALNAME_DEMO": "true",
            # Short heartbeats so the browser tests see crediting within seconds.
            "HEARTBEAT_INTERVAL_SECONDS": "2",
            # The face checks have their own browser tests (a server with them on and a fake camera).
            "FACE_CHECK_AT_LOGIN": "false",
            "FACE_CHECKS_WHILE_STUDYING": "false",
            "FACE_CHECK_AT_EXAM": "false",
            # The tests' own generous limit on one verification (production: 10 s); the machine may be busy.
            "FACE_TIMEOUT_SECONDS": "120",
        }
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str, timeout: int = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_for(
    condition: Callable[[], object],
    what: str,
    timeout: float = 120,
    every: float = 0.5,
    ignoring: tuple[type[BaseException], ...] = (),
) -> object:
    """Poll until `condition` gives a true value (returned); `ignoring` errors count as not yet. The deadline is the
    test's own and generous: the machine may be busy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except ignoring:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DemoServer:
    url: str
    accounts: list[dict[str, str]]
    env: dict[str, str]
    process: subprocess.Popen

    def account(self, role: str) -> dict[str, str]:
        return next(a for a in self.accounts if a["role"] == role)


def server_command(server: str, port: int, workers: int = 1) -> list[str]:
    """granian serving the production WSGI entry as `make run` and production do; `granian-1` with one thread, so a
    keep-alive client meets the same database connection; `granian-asgi` the ASGI entry (config.asgi); runserver as
    `make dev` does. `workers`: granian's worker processes (a failed one is respawned)."""
    if server == "granian-asgi":
        return [
            str(Path(sys.executable).parent / "granian"),
            *("--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--respawn-failed-workers", "--no-access-log", "config.asgi:application"),
        ]
    if server.startswith("granian"):
        return [
            str(Path(sys.executable).parent / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            "1" if server == "granian-1" else "2",
            "--respawn-failed-workers",
            "--no-access-log",
            "config.wsgi:application",
        ]
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


# Settings a server reads while serving that `seed_demo` never consults (it seeds no face check and no heartbeat):
# servers that differ only in these share one seeded database.
SERVING_ONLY = {"FACE_CHECK_AT_LOGIN", "FACE_CHECKS_WHILE_STUDYING", "FACE_CHECK_AT_EXAM", "FACE_CHALLENGES"}
SERVING_ONLY |= {"FACE_TIMEOUT_SECONDS", "HEARTBEAT_INTERVAL_SECONDS", "DEBUG"}
PATHS = {"DATABASE_URL", "MEDIA_ROOT", "STATIC_ROOT"}


def seeded(env: dict[str, str], workdir: Path) -> list[dict[str, str]]:
    """`migrate` and `seed_demo` into the server's own SQLite database and media folder. Within one test run the
    first server to need a seeding does it (about a minute and a half) and keeps a copy; the others, in any xdist
    worker, start from a copy of it, each with its own files."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not env["DATABASE_URL"].startswith("sqlite:") or "PYTEST_CURRENT_TEST" not in os.environ:
        manage(env, "migrate", "--noinput")
        return json.loads(manage(env, "seed_demo", "--json"))
    # The pytest base folder of this run: shared by the xdist workers (each has its own folder below it).
    shared = workdir.parent.parent / f"demo-seed-{run}" if run else workdir.parent / "demo-seed"
    shared.mkdir(exist_ok=True)
    key = hashlib.sha256(
        json.dumps(sorted((k, v) for k, v in env.items() if k not in SERVING_ONLY | PATHS)).encode()
    ).hexdigest()[:16]
    copy = shared / key
    database = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
    media = Path(env["MEDIA_ROOT"])
    with open(shared / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one seeding per settings; the others wait for it and copy
        if not (copy / "accounts.json").exists():
            manage(env, "migrate", "--noinput")
            accounts = manage(env, "seed_demo", "--json")
            copy.mkdir(exist_ok=True)
            shutil.copy2(database, copy / "demo.sqlite3")
            if media.exists():
                shutil.copytree(media, copy / "media")
            (copy / "accounts.json").write_text(accounts)
            return json.loads(accounts)
    shutil.copy2(copy / "demo.sqlite3", database)
    if (copy / "media").exists():
        shutil.copytree(copy / "media", media, dirs_exist_ok=True)
    return json.loads((copy / "accounts.json").read_text())


def start_demo_server(
    workdir: Path, server: str = "granian", workers: int = 1, **overrides: str
) -> DemoServer:
    env = demo_env(workdir, **overrides)
    if server == "runserver":
        env["DEBUG"] = overrides.get("DEBUG", "true")
    else:
        manage(env, "collectstatic", "--noinput", "-v", "0")
    accounts = seeded(env, workdir)
    port = free_port()
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        server_command(server, port, workers),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return DemoServer(url, accounts, env, process)
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise AssertionError(f"demo server did not start; log:\n{(workdir / 'server.log').read_text()}")
