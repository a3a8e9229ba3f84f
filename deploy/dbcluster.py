"""The managed database of `make prod-up`: a pg_auto_failover formation (monitor, primary, hot standby with
synchronous replication), pgBackRest with two repositories, and restic for the media files (docs/operations.md).

Used by deploy/prod.py (bring-up, status) and deploy/drill.py (restore drill). Standard library, plus psycopg from
the project's .venv for the few queries.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_AUTOCTL = "/usr/bin/pg_autoctl"
PGBACKREST = "/usr/bin/pgbackrest"
RESTIC = "/usr/bin/restic"
RUNUSER = "/usr/sbin/runuser"
STANZA = "safetrain"
DBNAME = "safetrain"
NODES = ("node1", "node2")


def pg_bin() -> Path:
    """The PostgreSQL release pg_auto_failover's package was built for (postgresql-15-auto-failover: 15)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/lib/pgautofailover.so"))
    return (found[-1].parent.parent if found else Path("/usr/lib/postgresql/15")) / "bin"


class ClusterFailure(Exception):
    """Why the formation could not be brought up or read."""


@dataclass(frozen=True)
class Cluster:
    """Where the formation lives and who runs it. PostgreSQL refuses to run as root: as root, the `postgres`
    account runs the nodes and pgBackRest; otherwise the calling user does."""

    pg_dir: Path
    backup_dir: Path
    offsite_dir: Path
    prod_dir: Path
    monitor_port: int
    node_ports: tuple[int, int]

    # Paths ---------------------------------------------------------------------------------------------------------
    @property
    def user(self) -> str:
        return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def run_as(self) -> list[str]:
        return [RUNUSER, "-u", self.user, "--"] if os.geteuid() == 0 else []

    def data(self, node: str) -> Path:
        return self.pg_dir / node

    @property
    def pgbackrest_conf(self) -> Path:
        return self.prod_dir / "pgbackrest.conf"

    @property
    def pgbackrest_command(self) -> list[str]:
        return [*self.run_as, PGBACKREST, f"--config={self.pgbackrest_conf}", f"--stanza={STANZA}"]

    @property
    def restic_repository(self) -> Path:
        return self.backup_dir / "restic"

    @property
    def restic_password_file(self) -> Path:
        return self.prod_dir / "restic.password"

    @property
    def restic_command(self) -> list[str]:
        return [
            RESTIC,
            "--repo",
            str(self.restic_repository),
            "--password-file",
            str(self.restic_password_file),
        ]

    @property
    def pgbackrest_offsite(self) -> Path:
        """pgBackRest's repo2 (the off-site copy), beside restic's off-site repository."""
        return self.offsite_dir / "pgbackrest"

    @property
    def restic_offsite_repository(self) -> Path:
        return self.offsite_dir / "restic"

    @property
    def restic_offsite_command(self) -> list[str]:
        return [
            *self.restic_command[:1],
            "--repo",
            str(self.restic_offsite_repository),
            *self.restic_command[3:],
        ]

    @property
    def socket_dir(self) -> Path:
        return Path("/var/run/postgresql")

    @property
    def database_url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.node_ports)
        return f"postgres://postgres@{hosts}/{DBNAME}?target_session_attrs=read-write"

    @property
    def monitor_uri(self) -> str:
        return f"postgres://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover?sslmode=disable"

    def environment(self) -> dict[str, str]:
        """pg_autoctl keeps its configuration and state under XDG folders: the formation's own, not ~postgres."""
        return {
            "PATH": f"{pg_bin()}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "XDG_CONFIG_HOME": str(self.pg_dir / "config"),
            "XDG_DATA_HOME": str(self.pg_dir / "share"),
            "XDG_RUNTIME_DIR": str(self.pg_dir / "run"),
            "PGCONNECT_TIMEOUT": "5",
        }

    def autoctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            *self.run_as,
            "env",
            *(f"{k}={v}" for k, v in self.environment().items()),
            PG_AUTOCTL,
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.pg_dir)
        if check and result.returncode != 0:
            raise ClusterFailure(f"pg_autoctl {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
        return result

    # Preparing -------------------------------------------------------------------------------------------------------
    def chown(self, path: Path) -> None:
        account = pwd.getpwnam(self.user)
        os.chown(path, account.pw_uid, account.pw_gid)

    def prepare(self, postgresql_conf: str) -> None:
        """Folders owned by the database's account; node1's data folder initialised with SafeTrain's settings the
        first time (node2 is cloned from the primary by pg_autoctl); the settings refreshed in every node."""
        for folder in (
            self.pg_dir,
            *(self.pg_dir / n for n in ("config", "share", "run", "pgbackrest-lock", "pgbackrest-spool")),
            self.backup_dir,
            self.backup_dir / "repo1",
            self.offsite_dir,
            self.pgbackrest_offsite,
            self.prod_dir / "log" / "pgbackrest",
        ):
            folder.mkdir(parents=True, exist_ok=True)
            self.chown(folder)
        for folder in (self.pg_dir, self.backup_dir, self.offsite_dir):
            folder.chmod(0o700)
        reachable(self.pg_dir, self.user)
        reachable(self.pgbackrest_conf.parent, self.user)
        settings = self.pg_dir / "safetrain.conf"
        settings.write_text(postgresql_conf, encoding="utf-8")
        self.chown(settings)
        node1 = self.data("node1")
        if not (node1 / "PG_VERSION").is_file() and not (self.data("node2") / "PG_VERSION").is_file():
            node1.mkdir(mode=0o700, exist_ok=True)
            self.chown(node1)
            initdb = [str(pg_bin() / "initdb"), "-D", str(node1), "-U", "postgres", "--auth=trust"]
            result = subprocess.run(
                [*self.run_as, *initdb, "--data-checksums", "--encoding=UTF8", "--locale=C.UTF-8"],
                capture_output=True,
                text=True,
                check=False,
                cwd=self.pg_dir,
            )
            if result.returncode != 0:
                raise ClusterFailure(f"initdb failed: {result.stderr.strip()[-2000:]}")
        for node in NODES:
            conf = self.data(node) / "postgresql.conf"
            if conf.is_file():
                shutil.copyfile(settings, self.data(node) / "safetrain.conf")
                self.chown(self.data(node) / "safetrain.conf")
                if "include_if_exists = 'safetrain.conf'" not in conf.read_text(encoding="utf-8"):
                    with conf.open("a", encoding="utf-8") as f:
                        f.write(
                            "\n# SafeTrain (deploy/postgresql/safetrain.conf.in)\ninclude_if_exists = 'safetrain.conf'\n"
                        )

    def created(self, node: str) -> bool:
        """The node's data folder exists and pg_autoctl has set it up (not only node1's initdb of prepare())."""
        return (self.data(node) / "postgresql-auto-failover.conf").is_file()

    # Reading -----------------------------------------------------------------------------------------------------
    def connect(self, port: int, dbname: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname=dbname, connect_timeout=5, **kwargs
        )

    def states(self) -> list[dict]:
        """The monitor's view: each node's name, port, reported and assigned state."""
        with self.connect(self.monitor_port, "pg_auto_failover") as connection:
            rows = connection.execute(
                "SELECT nodename, nodeport, reportedstate::text, goalstate::text, reportedlsn::text "
                "FROM pgautofailover.node ORDER BY nodeid"
            ).fetchall()
        return [
            {"node": name, "port": port, "reported": reported, "assigned": goal, "lsn": lsn}
            for name, port, reported, goal, lsn in rows
        ]

    def primary_port(self) -> int | None:
        for node in self.states():
            if (
                node["reported"] in ("primary", "wait_primary", "single")
                and node["assigned"] == node["reported"]
            ):
                return node["port"]
        return None

    def wait_for_node(self, node: str, states: tuple[str, ...], timeout: float) -> None:
        """Until the monitor has `node` registered in one of `states` (reported and assigned alike)."""
        deadline = time.monotonic() + timeout
        seen: list[dict] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                seen = self.states()
                if any(
                    s["node"] == node and s["reported"] == s["assigned"] and s["reported"] in states
                    for s in seen
                ):
                    return
            time.sleep(1)
        raise ClusterFailure(
            f"{node} is not {' or '.join(states)} after {timeout:.0f} s (the monitor sees {seen}); "
            f"see {self.prod_dir / 'log'}/pg-*.log"
        )

    def tune_keepers(self) -> None:
        """A primary that cannot reach the monitor nor its standby demotes itself after 5 s instead of 20 s: well
        before the monitor lets the promoted standby take writes (tune_monitor, 10 s), so that a cut-off old primary
        never acknowledges a write while the new one does. Read by each keeper at once (reload)."""
        for node in NODES:
            if self.created(node):
                self.autoctl(
                    "config",
                    "set",
                    "--pgdata",
                    str(self.data(node)),
                    "timeout.network_partition_timeout",
                    "5",
                )
                self.autoctl(
                    "reload", "--pgdata", str(self.data(node)), check=False
                )  # a stopped node reads it at start

    def tune_monitor(self) -> None:
        """Fail over after about 10 s without the primary instead of pg_auto_failover's 20 s, and let the new primary
        take writes 10 s after the old one was last seen instead of 30 s. That is safe because a cut-off old primary
        has demoted itself by then (tune_keepers: 5 s)."""
        with self.connect(self.monitor_port, "pg_auto_failover", autocommit=True) as connection:
            for name, value in (
                ("pgautofailover.health_check_period", 2000),
                ("pgautofailover.health_check_timeout", 2000),
                ("pgautofailover.health_check_retry_delay", 1000),
                ("pgautofailover.node_considered_unhealthy_timeout", 10000),
                ("pgautofailover.primary_demote_timeout", 10000),
            ):
                connection.execute(f"ALTER SYSTEM SET {name} = {int(value)}")
            connection.execute("SELECT pg_reload_conf()")

    def wait_for_formation(self, timeout: float, say) -> None:
        """Until node1 or node2 is primary and the other a streaming secondary. The standby's first copy is a
        pg_basebackup that waits for a checkpoint: asked for here so it starts at once."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                states = self.states()
                summary = ", ".join(f"{s['node']} {s['reported']}" for s in states)
                if summary != last:
                    say(f"database formation: {summary or 'monitor up, no node yet'}")
                    last = summary
                reported = sorted(s["reported"] for s in states if s["reported"] == s["assigned"])
                if reported == ["primary", "secondary"]:
                    return
                if any(s["reported"] in ("wait_standby", "catchingup") for s in states):
                    port = self.primary_port()
                    if port:
                        with self.connect(port, autocommit=True) as connection:
                            connection.execute("CHECKPOINT")
            time.sleep(2)
        raise ClusterFailure(
            f"the database formation is not primary + secondary after {timeout:.0f} s ({last}); "
            f"see {self.prod_dir / 'log'}/pg-*.log"
        )

    # Backups -------------------------------------------------------------------------------------------------------
    def pgbackrest(
        self, *args: str, check: bool = True, timeout: float = 3600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.pgbackrest_command, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd=self.pg_dir,
        )
        if check and result.returncode != 0:
            raise ClusterFailure(
                f"pgbackrest {' '.join(args)} failed (exit {result.returncode}):\n"
                + "\n".join(line for line in result.stdout.splitlines() if "ERROR" in line or "WARN" in line)
                + result.stderr[-2000:]
            )
        return result

    def stanza_create(self) -> None:
        """The stanza in both repositories, then `check`: the primary's WAL reaches them (idempotent)."""
        for command in ("stanza-create", "check"):
            # Until the stanza exists, PostgreSQL's asynchronous archive-push keeps retrying and holds the archive
            # lock for moments at a time: try again while the lock is taken (error 050).
            deadline = time.monotonic() + 180
            while True:
                result = self.pgbackrest(command, check=False)
                if result.returncode != 50 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            if result.returncode != 0:
                self.pgbackrest(command)  # raises with the output

    def info(self) -> list[dict]:
        """pgBackRest's backups of the stanza in every repository, oldest first."""
        result = self.pgbackrest("--output=json", "info")
        stanzas = json.loads(result.stdout or "[]")
        return stanzas[0].get("backup", []) if stanzas else []

    def restic_init(self) -> bool:
        """The media repositories (on site, off site) once, with a password generated once (0600). Returns whether one
        was created."""
        if not self.restic_password_file.is_file():
            import secrets

            fd = os.open(self.restic_password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        created = False
        for repository, command in (
            (self.restic_repository, self.restic_command),
            (self.restic_offsite_repository, self.restic_offsite_command),
        ):
            if (repository / "config").is_file():
                continue
            result = subprocess.run([*command, "init"], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ClusterFailure(f"restic init of {repository} failed: {result.stderr.strip()}")
            created = True
        return created


def reachable(path: Path, user: str) -> None:
    """Every folder on the way to `path` can be entered by `user` (the database's account)."""
    account = pwd.getpwnam(user)
    if account.pw_uid == 0:
        return
    groups = {account.pw_gid, *os.getgrouplist(user, account.pw_gid)}
    for folder in [*reversed(path.parents), path]:
        st = folder.stat()
        bit = 0o100 if st.st_uid == account.pw_uid else 0o010 if st.st_gid in groups else 0o001
        if not st.st_mode & bit:
            raise ClusterFailure(
                f"the database runs as {user}, who cannot enter {folder} (on the way to {path}): choose a "
                "PROD_DIR (or PROD_PG_DIR) that user can reach"
            )
