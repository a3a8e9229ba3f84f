"""`make restore-drill`: restore the newest backup (or a point in time) into a scratch PostgreSQL cluster and a
scratch media folder, verify the copy, and print the time it took (RTO) and the age of the newest restored
transaction (RPO). Exits 1 if any step fails: a damaged backup is reported and never restored silently.

    1. pgbackrest verify        every file of the repository against its checksum (a damaged backup stops here)
    2. pgbackrest restore       the newest backup of the repository (or --target-time) into PROD_DIR/drill/...;
                                pgBackRest checks each restored file's checksum again
    3. recovery                 a scratch PostgreSQL replays the archived WAL and is promoted
    4. restic restore --verify  the newest media snapshot, each restored file read back against the repository
    5. verify_records, verify_audit_chain, verify_media on the restored copy (seals, hash chain, media checksums)

The result is written to the live platform (manage.py drill_record: /ops/backups/ and the metrics show it).
Settings are those of `make prod-up` (PROD_DIR and the rest, deploy/prod.py). Options: --repo 1|2, --target-time
"2026-12-07 10:00:00+08", --keep (leave the scratch copy and its PostgreSQL stopped in place), --no-record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dbcluster import DBNAME, Cluster, ClusterFailure, pg_bin
from prod import VENV_BIN, Failure, Topology, say

ROOT = Path(__file__).resolve().parent.parent


class DrillFailure(Exception):
    """A step that failed: the drill stops and reports it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Drill:
    def __init__(self, t: Topology, repo: int, target_time: str | None, keep: bool) -> None:
        if t.cluster is None:
            raise Failure(
                "PROD_DATABASE_URL names a database managed elsewhere: its backups are not ours to drill"
            )
        self.t = t
        self.c: Cluster = t.cluster
        self.repo = repo
        self.target_time = target_time
        self.keep = keep
        self.started = time.time()
        self.started_at = dt.datetime.now(dt.UTC)
        self.scratch = t.prod_dir / "drill" / self.started_at.strftime("%Y%m%dT%H%M%SZ")
        self.pgdata = self.scratch / "pg"
        self.media = self.scratch / "media"
        self.port = free_port()
        self.steps: list[tuple[str, float, str]] = []
        self.details: dict = {"repo": repo, "target_time": target_time}
        self.label = ""
        self.newest: dt.datetime | None = None
        self.media_taken_at: str | None = None
        self.restored_media_root: Path | None = None

    # Steps ---------------------------------------------------------------------------------------------------------
    def step(self, name: str, function) -> None:
        began = time.monotonic()
        try:
            note = function() or "ok"
        except (DrillFailure, ClusterFailure, subprocess.TimeoutExpired) as failure:
            self.steps.append((name, time.monotonic() - began, "FAILED"))
            raise DrillFailure(f"{name}: {failure}") from None
        self.steps.append((name, time.monotonic() - began, note))
        say(f"  {name:<26} {time.monotonic() - began:7.1f} s  {note}")

    def choose_backup(self) -> str:
        backups = [b for b in self.c.info() if b["database"]["repo-key"] == self.repo]
        if self.target_time:
            target = parse_time(self.target_time)
            backups = [b for b in backups if b["timestamp"]["stop"] <= target.timestamp()]
        if not backups:
            raise DrillFailure(
                f"repo{self.repo} holds no backup" + (" before the target time" if self.target_time else "")
            )
        chosen = backups[-1]
        self.label = chosen["label"]
        self.details["backup"] = {
            "label": chosen["label"],
            "type": chosen["type"],
            "stop": stamp(chosen["timestamp"]["stop"]),
            "size": chosen["info"]["size"],
            "repository_size": chosen["info"]["repository"]["delta"],
        }
        self.backup_stop = dt.datetime.fromtimestamp(chosen["timestamp"]["stop"], dt.UTC)
        return f"{chosen['label']} ({chosen['type']}, {chosen['info']['size'] / 2**20:,.0f} MiB, ended {stamp(chosen['timestamp']['stop'])})"

    def verify_repository(self) -> str:
        result = self.c.pgbackrest(
            f"--repo={self.repo}", "verify", "--output=text", "--verbose", check=False, timeout=3600
        )
        output = result.stdout + result.stderr
        # pgBackRest 2.45 exits 0 even when it finds damage: its summary (--output=text) has a status for the stanza
        # and each backup; anything but "ok" (invalid checksums, missing files, bad sizes, WAL gaps) stops the drill.
        lines = [line.strip() for line in output.splitlines()]
        statuses = [re.search(r"status: (\w+)", line) for line in lines]
        bad = [
            line for line, s in zip(lines, statuses, strict=True) if s and s.group(1) not in ("ok", "valid")
        ]
        # "missing: 0, checksum invalid: 0, size invalid: 0, other: 0" under the stanza's WAL and each backup
        bad += [line for line in lines if re.search(r"(missing|invalid|other): [1-9]", line)]
        bad += [line for line in lines if "invalid checksum" in line]
        statuses = [s for s in statuses if s]
        if result.returncode != 0 or not statuses or bad:
            damaged = "; ".join(bad[:10]) or output.strip()[-1500:]
            raise DrillFailure(f"repo{self.repo} is damaged, nothing restored: {damaged}")
        return "every file matches its checksum"

    def restore_database(self) -> str:
        self.scratch.mkdir(parents=True)
        self.c.chown(self.scratch)
        self.pgdata.mkdir(mode=0o700)
        self.c.chown(self.pgdata)
        args = [
            f"--repo={self.repo}",
            f"--pg1-path={self.pgdata}",
            "--archive-mode=off",
            f"--set={self.label}",
        ]
        if self.target_time:
            args += ["--type=time", f"--target={self.target_time}", "--target-action=promote"]
        self.c.pgbackrest(*args, "restore", timeout=3600)
        files = sum(1 for _ in self.pgdata.rglob("*"))
        return f"{files:,} files"

    def recover(self) -> str:
        options = " ".join(
            f"-c {k}={v}"
            for k, v in {
                "port": self.port,
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": self.scratch,
                "synchronous_standby_names": "''",
                "archive_mode": "off",
                "logging_collector": "off",
            }.items()
        )
        command = [
            str(pg_bin() / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.scratch / "postgresql.log"),
        ]
        result = subprocess.run(
            [*self.c.run_as, *command, "-o", options, "-w", "-t", "3600", "start"],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.scratch,
        )
        if result.returncode != 0:
            raise DrillFailure(f"PostgreSQL did not start on the restored copy: {self.log_tail()}")
        deadline = time.monotonic() + 3600
        while True:
            try:
                with self.c.connect(self.port, DBNAME) as connection:
                    in_recovery, newest = connection.execute(
                        "SELECT pg_is_in_recovery(), (pg_last_committed_xact()).timestamp"
                    ).fetchone()
            except Exception as problem:  # noqa: BLE001 - PostgreSQL stopped during recovery: its log says why
                raise DrillFailure(f"recovery failed ({problem}): {self.log_tail()}") from None
            if not in_recovery:
                break
            if time.monotonic() > deadline:
                raise DrillFailure("recovery did not finish within an hour")
            time.sleep(0.5)
        # No transaction replayed after the backup: the newest one is the backup's own end.
        self.newest = (newest or self.backup_stop).astimezone(dt.UTC)
        self.recovered_at = dt.datetime.now(dt.UTC)
        return f"newest restored transaction {self.newest:%Y-%m-%d %H:%M:%S} UTC"

    def restore_media(self) -> str:
        # The off-site drill restores the media from the off-site copy too.
        restic = self.c.restic_offsite_command if self.repo == 2 else self.c.restic_command
        listing = run_json([*restic, "snapshots", "--json", "--tag", "safetrain-media"])
        if not listing:
            raise DrillFailure("the media repository holds no snapshot")
        snapshot = max(listing, key=lambda s: s["time"])
        self.media_taken_at = snapshot["time"]
        self.details["media_snapshot"] = {
            "id": snapshot["short_id"],
            "time": snapshot["time"],
            "paths": snapshot["paths"],
        }
        check = subprocess.run([*restic, "check"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise DrillFailure(
                f"restic check: the media repository is damaged: {check.stdout[-1500:]}{check.stderr[-1500:]}"
            )
        restore = subprocess.run(
            [*restic, "restore", snapshot["id"], "--target", str(self.media), "--verify"],
            capture_output=True,
            text=True,
            check=False,
        )
        if restore.returncode != 0 or "error" in restore.stderr.lower():
            raise DrillFailure(f"restic restore: {restore.stdout[-1500:]}{restore.stderr[-1500:]}")
        live_media = self.t.django_environment()["MEDIA_ROOT"]
        self.restored_media_root = self.media / live_media.lstrip("/")
        self.restored_media_root.mkdir(parents=True, exist_ok=True)  # an empty media folder leaves nothing
        files = sum(1 for p in self.restored_media_root.rglob("*") if p.is_file())
        return f"snapshot {snapshot['short_id']} of {snapshot['time'][:19]}, {files:,} files read back and compared"

    def manage(self, *args: str) -> str:
        env = {
            **self.t.django_environment(),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.port}/{DBNAME}",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "MEDIA_ROOT": str(self.restored_media_root),
            "BACKUP_PGBACKREST_COMMAND": "",
            "BACKUP_RESTIC_COMMAND": "",
        }
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if result.returncode != 0:
            raise DrillFailure((result.stdout + result.stderr).strip()[-3000:])
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "ok"

    # Whole ---------------------------------------------------------------------------------------------------------
    def run(self) -> bool:
        say(
            f"restore drill: repo{self.repo}"
            + (f", point in time {self.target_time}" if self.target_time else ", newest")
        )
        ok = False
        failure = ""
        try:
            self.step("choose backup", self.choose_backup)
            self.step("pgbackrest verify", self.verify_repository)
            self.step("pgbackrest restore", self.restore_database)
            self.step("recovery (WAL replay)", self.recover)
            self.step("restic restore --verify", self.restore_media)
            # The copy is older than the newest checkpoints in storage: compare with the newest one taken before it.
            as_of = ("--as-of", self.newest.isoformat()) if self.newest else ()
            self.step("verify_records", lambda: self.manage("verify_records", *as_of))
            self.step("verify_audit_chain", lambda: self.manage("verify_audit_chain", *as_of))
            taken = ["--taken-at", self.media_taken_at] if self.media_taken_at else []
            self.step("verify_media", lambda: self.manage("verify_media", *taken))
            ok = True
        except (DrillFailure, ClusterFailure) as problem:
            failure = str(problem)
        finally:
            self.stop_postgres()
        rto = time.time() - self.started
        # RPO: how old the newest restored transaction was when the restore had replayed everything archived (WAL
        # keeps arriving during the drill); for a point in time, how far before the target it is.
        if self.newest is None:
            rpo = None
        elif self.target_time:
            rpo = (parse_time(self.target_time) - self.newest).total_seconds()
        else:
            rpo = (self.recovered_at - self.newest).total_seconds()
        self.details["steps"] = [{"step": n, "seconds": round(s, 1), "result": r} for n, s, r in self.steps]
        if failure:
            self.details["failure"] = failure[-4000:]
        if ok:
            since = "before the target time" if self.target_time else "old when recovery ended"
            say(
                f"RESTORE DRILL PASSED: RTO {rto:.1f} s (start to verified copy), RPO {rpo:.1f} s "
                f"(newest restored transaction {self.newest:%Y-%m-%d %H:%M:%S} UTC, {since}; the drill began "
                f"{self.started_at:%H:%M:%S} UTC)"
            )
        else:
            say(f"RESTORE DRILL FAILED after {rto:.1f} s: {failure}")
        self.rto, self.rpo, self.ok = rto, rpo, ok
        if not self.keep:
            shutil.rmtree(self.scratch, ignore_errors=True)
        else:
            say(
                f"the restored copy is kept in {self.scratch} (PostgreSQL stopped; start it with pg_ctl -D {self.pgdata})"
            )
        return ok

    def record(self) -> None:
        """The result in the live platform (/ops/backups/, metrics); a failure to record is reported, not fatal."""
        args = ["--ok" if self.ok else "--failed", "--rto", f"{self.rto:.1f}", "--label", self.label or "-"]
        if self.rpo is not None:
            args += ["--rpo", f"{self.rpo:.1f}"]
        if self.target_time:
            args += ["--target-time", parse_time(self.target_time).isoformat()]
        args += ["--details", json.dumps(self.details, ensure_ascii=False)]
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "drill_record", *args],
            cwd=ROOT,
            env=self.t.django_environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            say(
                f"note: the drill's result could not be recorded in the platform: {result.stderr.strip()[-500:]}"
            )

    def stop_postgres(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.is_file():
            command = [str(pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "-w", "stop"]
            result = subprocess.run(
                [*self.c.run_as, *command], capture_output=True, check=False, cwd=self.scratch
            )
            if result.returncode != 0:
                try:
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError):
                    pass

    def log_tail(self) -> str:
        log = self.scratch / "postgresql.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.is_file() else "(no log)"


def parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Failure(f"--target-time {value!r}: write e.g. '2026-12-07 10:00:00+08:00'") from None
    if parsed.tzinfo is None:
        raise Failure(f"--target-time {value!r}: give the zone, e.g. '+08:00'")
    return parsed


def stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_json(command: list[str]):
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DrillFailure(f"{' '.join(command[:1])} failed: {result.stderr.strip()[-1500:]}")
    return json.loads(result.stdout or "null")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repo", type=int, choices=(1, 2), default=1, help="1: on-site (default), 2: off-site"
    )
    parser.add_argument(
        "--target-time", help="restore to this moment (point in time), e.g. '2026-12-07 10:00:00+08'"
    )
    parser.add_argument("--keep", action="store_true", help="keep the restored copy in PROD_DIR/drill/")
    parser.add_argument("--no-record", action="store_true", help="do not write the result into the platform")
    args = parser.parse_args(argv)
    try:
        t = Topology.from_env(dict(os.environ))
        if args.target_time:
            parse_time(args.target_time)
        drill = Drill(t, args.repo, args.target_time, args.keep)
        ok = drill.run()
        if not args.no_record:
            drill.record()
    except Failure as failure:
        say(f"restore drill: {failure}")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
