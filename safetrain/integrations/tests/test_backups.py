"""OPS-03: backups (incremental every 24 h, off-site every 7 days, full every 30 days), run from the platform, recorded,
with alarms, metrics and an operations page; restore drills recorded.

What is real and what is not:
- restic is the real /usr/bin/restic: `restic init` of a repository in a temporary folder, then the platform's
  backup of a temporary media folder and its `forget --prune`.
- pgBackRest is the real /usr/bin/pgbackrest against a private PostgreSQL cluster of this module (initdb as the
  postgres user, WAL archived by pgBackRest, repositories 1 and 2 in a temporary folder): `test_ops_03_real_*`.
- FAKE_PGBACKREST is a small script that this module writes, answering like pgBackRest (`backup` with its exit
  status, `--output=json info` in pgBackRest's format) under control of the test: it serves the schedule's and the
  failures' tests, where a real cluster would only make them slow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from safetrain.integrations import backups
from safetrain.integrations.backup_status import backup_gauges, drill_record
from safetrain.integrations.backups import (
    BackupBusy,
    Stream,
    StreamState,
    backup_decide,
    backup_run,
    backups_decide,
    backups_due_run,
)
from safetrain.integrations.models import Alarm, AlarmStatus, BackupKind, BackupRun, RestoreDrill

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
GRACE = 2 * H
RETRY = H
REPO1 = Stream("database", 1, BackupKind.INCR, 24 * H, 30 * D)
REPO2 = Stream("database", 2, BackupKind.DIFF, 7 * D, 30 * D)
MEDIA = Stream("media", 0, BackupKind.SNAPSHOT, 24 * H)


# The schedule: a pure function, table-driven -----------------------------------------------------------------------


def ago(delta: dt.timedelta) -> dt.datetime:
    return NOW - delta


@pytest.mark.parametrize(
    ("stream", "state", "run_now", "kind", "missed"),
    [
        # never backed up: a full backup at once (restic: a snapshot)
        (REPO1, StreamState(), True, "full", False),
        (MEDIA, StreamState(), True, "snapshot", False),
        # the daily incremental: due 24 h after the last success, a check (15 min) early so that it does not drift
        (REPO1, StreamState(last_success=ago(23 * H), last_full=ago(5 * D)), False, "incr", False),
        (REPO1, StreamState(last_success=ago(23.8 * H), last_full=ago(5 * D)), True, "incr", False),
        (REPO1, StreamState(last_success=ago(24 * H), last_full=ago(5 * D)), True, "incr", False),
        # the monthly full: 30 days after the last full, whatever the incrementals did
        (REPO1, StreamState(last_success=ago(24 * H), last_full=ago(30 * D)), True, "full", False),
        (REPO1, StreamState(last_success=ago(2 * H), last_full=ago(30 * D)), True, "full", False),
        (REPO1, StreamState(last_success=ago(2 * H), last_full=ago(30 * D + 3 * H)), True, "full", True),
        # missed days (the worker was down from day 25 to day 31) do not skip the full: the next run is the full
        (REPO1, StreamState(last_success=ago(6 * D), last_full=ago(31 * D)), True, "full", True),
        # ...and missed days before the full is due only lead to the incremental, late
        (REPO1, StreamState(last_success=ago(3 * D), last_full=ago(10 * D)), True, "incr", True),
        # pgBackRest's answer was lost: no full known, a full at once
        (REPO1, StreamState(last_success=ago(1 * H), first_attempt=ago(1 * H)), True, "full", False),
        # off site: a differential every 7 days, a full every 30
        (REPO2, StreamState(last_success=ago(6 * D), last_full=ago(20 * D)), False, "diff", False),
        (REPO2, StreamState(last_success=ago(7 * D), last_full=ago(20 * D)), True, "diff", False),
        (REPO2, StreamState(last_success=ago(7 * D + 3 * H), last_full=ago(21 * D)), True, "diff", True),
        (REPO2, StreamState(last_success=ago(7 * D), last_full=ago(30 * D)), True, "full", False),
        (REPO2, StreamState(last_success=ago(1 * D), last_full=ago(30 * D)), True, "full", False),
        # media: a snapshot every 24 h
        (MEDIA, StreamState(last_success=ago(20 * H)), False, "snapshot", False),
        (MEDIA, StreamState(last_success=ago(27 * H)), True, "snapshot", True),
        # after a failure the next try waits an hour; it is still missed meanwhile
        (
            REPO1,
            StreamState(last_success=ago(27 * H), last_full=ago(5 * D), last_failure=ago(0.5 * H)),
            False,
            "incr",
            True,
        ),
        (
            REPO1,
            StreamState(last_success=ago(27 * H), last_full=ago(5 * D), last_failure=ago(1.5 * H)),
            True,
            "incr",
            True,
        ),
        # a failed full is tried again as a full, never replaced by an incremental
        (
            REPO1,
            StreamState(last_success=ago(25 * H), last_full=ago(31 * D), last_failure=ago(2 * H)),
            True,
            "full",
            True,
        ),
        # never succeeded: missed from the first attempt on
        (REPO1, StreamState(first_attempt=ago(3 * H), last_failure=ago(2 * H)), True, "full", True),
        # a run in progress: nothing more to start, and not missed while it runs
        (
            REPO1,
            StreamState(last_success=ago(30 * H), last_full=ago(5 * D), running_since=ago(4 * H)),
            False,
            "incr",
            False,
        ),
    ],
)
def test_ops_03_the_schedule_decides_what_runs(stream, state, run_now, kind, missed):
    decision = backup_decide(stream, state, NOW, grace=GRACE, retry=RETRY)
    assert (decision.run_now, decision.kind, decision.missed) == (run_now, kind, missed)


def test_ops_03_the_next_run_is_announced_with_its_kind():
    """Not due yet: the page says when and what (a full when the full period will be over by then)."""
    decision = backup_decide(
        REPO1, StreamState(last_success=ago(2 * H), last_full=ago(29.95 * D)), NOW, grace=GRACE, retry=RETRY
    )
    assert not decision.run_now
    assert decision.due_at == ago(29.95 * D) + 30 * D
    assert decision.kind == "full"
    decision = backup_decide(
        REPO1, StreamState(last_success=ago(2 * H), last_full=ago(2 * D)), NOW, grace=GRACE, retry=RETRY
    )
    assert (decision.due_at, decision.kind) == (ago(2 * H) + 24 * H, "incr")


def test_ops_03_a_daily_backup_stays_at_its_hour_over_a_month():
    """Simulated: the check every 15 minutes, the task starting a few seconds after the tick; over 60 days the
    backup starts at the same time of day, 24 h after the previous one, with a full one every 30 days."""
    state = StreamState()
    starts, fulls = [], []
    moment = NOW
    while moment < NOW + 60 * D:
        decision = backup_decide(REPO1, state, moment, grace=GRACE, retry=RETRY)
        if decision.run_now:
            started = moment + dt.timedelta(seconds=3)
            starts.append(started)
            if decision.kind == "full":
                fulls.append(started)
            state = StreamState(last_success=started, last_full=fulls[-1])
        moment += 15 * dt.timedelta(minutes=1)
    gaps = {b - a for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {24 * H}
    assert all(b - a <= 30 * D for a, b in zip(fulls, fulls[1:], strict=False))
    assert fulls == [starts[0], starts[30]]
    assert len(starts) == 60
    assert {s.time() for s in starts} == {(NOW + dt.timedelta(seconds=3)).time()}


# A fake pgBackRest for the schedule's and failures' tests ---------------------------------------------------------

FAKE_PGBACKREST = textwrap.dedent(
    '''\
    #!{python}
    """FAKE pgBackRest (tests only): `--repo=N --type=T backup` and `--repo=N --output=json info`, as pgBackRest
    answers them. state.json beside it: {{"mode": "ok"|"fail"|"sleep"|"lie", "backups": [...]}}."""
    import json, sys, time
    from pathlib import Path

    state_file = Path(__file__).with_name("state.json")
    state = json.loads(state_file.read_text())
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    repo = int(args["repo"])
    if sys.argv[-1] == "backup":
        mode = state["mode"]
        if mode == "fail":
            print("ERROR: [056]: unable to find primary cluster - cannot proceed", file=sys.stderr)
            sys.exit(56)
        if mode == "sleep":
            time.sleep(60)
        if mode == "lie":
            sys.exit(0)  # success without a backup
        kind = args["type"]
        fulls = [b for b in state["backups"] if b["database"]["repo-key"] == repo and b["type"] == "full"]
        if not fulls and kind != "full":
            print(f"WARN: no prior backup exists, {{kind}} backup has been changed to full")
            kind = "full"
        now = time.time()
        label = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + {{"full": "F", "diff": "D", "incr": "I"}}[kind]
        state["backups"].append({{
            "label": label, "type": kind, "error": False, "database": {{"id": 1, "repo-key": repo}},
            "timestamp": {{"start": int(now), "stop": int(now) + 1}},
            "info": {{"size": 23213778, "delta": 8458, "repository": {{"size": 3062528, "delta": 430}}}},
        }})
        state_file.write_text(json.dumps(state))
    elif sys.argv[-1] == "info":
        print(json.dumps([{{"name": "safetrain", "backup": state["backups"], "status": {{"code": 0}}}}]))
    '''
)


class FakePgBackRest:
    def __init__(self, folder: Path) -> None:
        self.script = folder / "fake-pgbackrest"
        self.state = folder / "state.json"
        self.script.write_text(FAKE_PGBACKREST.format(python=sys.executable))
        self.script.chmod(0o755)
        self.mode("ok")

    def mode(self, mode: str) -> None:
        state = json.loads(self.state.read_text()) if self.state.exists() else {"backups": []}
        state["mode"] = mode
        self.state.write_text(json.dumps(state))

    def age(self, seconds: int) -> None:
        """Make the backups in the fake repository `seconds` older."""
        state = json.loads(self.state.read_text())
        for backup in state["backups"]:
            backup["timestamp"] = {k: v - seconds for k, v in backup["timestamp"].items()}
        self.state.write_text(json.dumps(state))

    @property
    def command(self) -> str:
        return f"{self.script} --stanza=safetrain"


@pytest.fixture
def fake_pgbackrest(tmp_path, settings) -> FakePgBackRest:
    fake = FakePgBackRest(tmp_path)
    settings.BACKUP_PGBACKREST_COMMAND = fake.command
    settings.BACKUP_RESTIC_COMMAND = ""
    return fake


def firing(name: str) -> list[Alarm]:
    return list(Alarm.objects.filter(name=name, status=AlarmStatus.FIRING))


def run_at(
    started: dt.datetime, *, repo: int = 1, kind: str = "incr", ok: bool | None = True, target="database"
):
    return BackupRun.objects.create(
        target=target,
        repo=repo,
        requested_kind=kind,
        kind=kind if ok else "",
        started_at=started,
        finished_at=None if ok is None else started + dt.timedelta(minutes=10),
        ok=ok,
        label=f"label-{started:%Y%m%d}",
        size_bytes=1000,
    )


@pytest.mark.django_db
def test_ops_03_the_due_backups_run_and_are_recorded_with_what_pgbackrest_did(fake_pgbackrest):
    runs = backups_due_run()
    assert [(r.target, r.repo, r.requested_kind, r.kind, r.ok) for r in runs] == [
        ("database", 1, "full", "full", True),
        ("database", 2, "full", "full", True),
    ]
    run = runs[0]
    assert run.label.endswith("F")
    assert (run.size_bytes, run.stored_bytes) == (23213778, 430)
    assert run.finished_at >= run.started_at
    assert run.node
    assert backups_due_run() == []  # nothing more is due
    # a day later the incremental is due in repository 1 only
    BackupRun.objects.update(started_at=timezone.now() - 24 * H)
    (incr,) = backups_due_run()
    assert (incr.repo, incr.requested_kind, incr.kind) == (1, "incr", "incr")
    assert incr.label.endswith("I")


@pytest.mark.django_db
def test_ops_03_pgbackrest_upgrading_a_backup_to_full_is_recorded_as_full(fake_pgbackrest):
    run = backup_run(target="database", repo=1, kind="incr")
    assert (run.requested_kind, run.kind, run.ok) == ("incr", "full", True)
    assert "changed to full" in run.output
    decisions = {d.stream.repo: d for d in backups_decide()}
    assert not decisions[1].run_now  # the full counts: no second full right after


@pytest.mark.django_db
def test_ops_03_a_failed_backup_is_recorded_raises_an_alarm_and_the_next_success_resolves_it(fake_pgbackrest):
    fake_pgbackrest.mode("fail")
    run = backup_run(target="database", repo=1, kind="full")
    assert (run.ok, run.exit_code, run.kind, run.label) == (False, 56, "", "")
    assert "unable to find primary cluster" in run.output
    (alarm,) = firing("BackupFailed")
    assert alarm.labels["target"] == "database"
    assert alarm.labels["repo"] == "1"
    assert alarm.labels["source"] == "safetrain"
    assert "unable to find primary cluster" in alarm.description
    backup_run(target="database", repo=1, kind="full")  # fails again: the same entry, notified twice
    (alarm,) = firing("BackupFailed")
    assert alarm.notifications == 2
    fake_pgbackrest.mode("ok")
    assert backup_run(target="database", repo=1, kind="full").ok
    assert firing("BackupFailed") == []
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED
    assert alarm.ends_at is not None


@pytest.mark.django_db
def test_ops_03_a_success_without_a_new_backup_is_a_failure(fake_pgbackrest):
    backup_run(target="database", repo=1, kind="full")
    BackupRun.objects.update(started_at=timezone.now() - 24 * H)
    fake_pgbackrest.age(24 * 3600)
    fake_pgbackrest.mode("lie")
    run = backup_run(target="database", repo=1, kind="incr")
    assert run.ok is False
    assert "older" in run.output


@pytest.mark.django_db
def test_ops_03_a_backup_past_its_time_limit_is_stopped_and_recorded_as_failed(
    fake_pgbackrest, settings, monkeypatch
):
    settings.BACKUP_TIMEOUT_SECONDS = 1
    monkeypatch.setattr(backups, "STOP_GRACE_SECONDS", 5)
    fake_pgbackrest.mode("sleep")
    started = timezone.now()
    run = backup_run(target="database", repo=1, kind="full")
    assert run.ok is False
    assert run.exit_code is None
    assert "stopped after 1 s" in run.output
    assert (run.finished_at - started).total_seconds() < 30


@pytest.mark.django_db
def test_ops_03_a_missed_backup_raises_an_alarm_until_a_backup_succeeds(fake_pgbackrest, settings):
    now = timezone.now()
    run_at(now - 40 * D, kind="full")
    run_at(now - 27 * H, kind="incr")
    run_at(now - 27 * H, repo=2, kind="full")
    run_at(now - 30 * H, repo=2, kind="full")
    fake_pgbackrest.mode("fail")
    backups_due_run()  # repository 1: the full (40 days) is overdue, and it fails
    (missed,) = firing("BackupMissed")
    assert missed.labels["repo"] == "1"
    assert {a.labels["repo"] for a in firing("BackupFailed")} == {"1"}
    backups_due_run()  # within the retry wait: no new run, the alarm stays one entry
    assert BackupRun.objects.filter(ok=False).count() == 1
    assert len(firing("BackupMissed")) == 1
    fake_pgbackrest.mode("ok")
    BackupRun.objects.filter(ok=False).update(finished_at=now - 2 * H)  # the retry wait is over
    (run,) = backups_due_run()
    assert (run.repo, run.kind, run.ok) == (1, "full", True)
    assert firing("BackupMissed") == []
    assert firing("BackupFailed") == []


@pytest.mark.django_db
def test_ops_03_switching_a_target_off_resolves_its_missed_alarm(fake_pgbackrest, settings):
    run_at(timezone.now() - 40 * D, kind="full")
    fake_pgbackrest.mode("fail")
    settings.BACKUP_OFFSITE_DIFF_DAYS = 0
    backups_due_run()
    assert len(firing("BackupMissed")) == 1
    settings.BACKUP_PGBACKREST_COMMAND = ""
    assert backups_decide() == []
    backups_due_run()
    assert firing("BackupMissed") == []


@pytest.mark.django_db
def test_ops_03_one_backup_at_a_time(fake_pgbackrest):
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    import psycopg

    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [backups.LOCK_KEY])
        with pytest.raises(BackupBusy):
            backup_run(target="database", repo=1, kind="full")
        assert backups_due_run() == []
        with pytest.raises(CommandError, match="另一个备份正在运行"):
            call_command("backup_run", "database", "--repo", "1", "--type", "full")
        with pytest.raises(CommandError, match="另一个备份正在运行"):  # not "nothing is due"
            call_command("backup_run", "--due")
        other.execute("SELECT pg_advisory_unlock(%s)", [backups.LOCK_KEY])
    assert not BackupRun.objects.exists()
    assert backup_run(target="database", repo=1, kind="full").ok


@pytest.mark.django_db
def test_ops_03_a_run_left_open_by_a_dead_worker_is_closed_as_failed(fake_pgbackrest, settings):
    from django.db import connection

    recent = None
    if connection.vendor == "postgresql":
        # Under the lock no other run is going on: any run still open was interrupted.
        left = run_at(timezone.now() - 1 * H, ok=None)
        assert backups_decide()[0].running
    else:
        # Without the lock (SQLite) a run within the timeout may still be going on: only one past it was interrupted.
        recent = run_at(timezone.now() - 1 * H, ok=None)
        left = run_at(timezone.now() - dt.timedelta(seconds=settings.BACKUP_TIMEOUT_SECONDS) - 2 * H, ok=None)
    backup_run(target="database", repo=1, kind="full")
    left.refresh_from_db()
    assert left.ok is False
    assert "interrupted" in left.output
    if recent is not None:
        recent.refresh_from_db()
        assert recent.ok is None


@pytest.mark.django_db
def test_ops_03_backups_that_are_not_configured_are_not_run(settings):
    settings.BACKUP_PGBACKREST_COMMAND = settings.BACKUP_RESTIC_COMMAND = ""
    assert backups_decide() == []
    assert backups_due_run() == []
    with pytest.raises(CommandError, match="本平台未配置数据库备份"):
        call_command("backup_run", "database", "--type", "full")
    with pytest.raises(CommandError, match="本平台未配置媒体文件备份"):
        call_command("backup_run", "media")


@pytest.mark.django_db
def test_ops_03_the_command_prints_the_run_and_fails_with_it(fake_pgbackrest, capsys):
    call_command("backup_run", "database", "--repo", "2", "--type", "diff")
    out = capsys.readouterr().out
    assert "数据库（异地） full (asked diff): ok" in out
    call_command("backup_run", "--due")  # repository 1 is due
    assert "数据库（本地） full" in capsys.readouterr().out
    call_command("backup_run", "--due")
    assert "nothing is due" in capsys.readouterr().out
    fake_pgbackrest.mode("fail")
    with pytest.raises(CommandError, match="1 of 1 backup"):
        call_command("backup_run", "database", "--repo", "1", "--type", "incr")


@pytest.mark.parametrize(
    ("name", "environment", "scheduled"),
    [
        ("none", {}, False),
        ("pgbackrest", {"BACKUP_PGBACKREST_COMMAND": "pgbackrest --stanza=safetrain"}, True),
    ],
)
def test_ops_03_the_beat_runs_the_backups_only_where_they_are_configured(name, environment, scheduled):
    code = (
        "from config import settings as s; print(json.dumps(['backups-due' in s.CELERY_BEAT_SCHEDULE, "
        "s.CELERY_TASK_ROUTES['integrations.backups_due'], s.CELERY_QUEUES_WATCHED]))"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BACKUP_") and k != "CELERY_QUEUES_WATCHED"
    }
    env.update(environment, SAFETRAIN_ENV_FILE="/nonexistent", SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="")
    result = subprocess.run(
        [sys.executable, "-c", f"import json; {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [scheduled, {"queue": "backup"}, ["celery", "backup"]]


# Real restic ------------------------------------------------------------------------------------------------------

RESTIC = shutil.which("restic")


@pytest.fixture
def restic_repository(tmp_path, settings) -> Iterator[Path]:
    if not RESTIC:
        pytest.fail("restic is not installed (Debian's restic): the media backup is unproven without it")
    password = tmp_path / "restic.password"
    password.write_text("test-password-only\n")
    repository = tmp_path / "restic-repo"
    prefix = f"{RESTIC} --repo {repository} --password-file {password} --no-cache"
    init = subprocess.run([*shlex.split(prefix), "init"], capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    media = tmp_path / "media"
    (media / "videos").mkdir(parents=True)
    (media / "videos" / "lesson.mp4").write_bytes(os.urandom(200_000))
    (media / "materials.pdf").write_bytes(b"%PDF-1.4 safety rules" * 100)
    settings.BACKUP_RESTIC_COMMAND = prefix
    settings.BACKUP_PGBACKREST_COMMAND = ""
    settings.BACKUP_MEDIA_PATHS = [str(media)]
    return repository


@pytest.mark.django_db
def test_ops_03_real_restic_backs_up_the_media_files_and_keeps_the_retention(restic_repository, settings):
    (run,) = backups_due_run()
    assert (run.target, run.repo, run.kind, run.ok, run.exit_code) == ("media", 0, "snapshot", True, 0)
    assert len(run.label) >= 8
    assert run.size_bytes == 200_000 + len(b"%PDF-1.4 safety rules") * 100
    assert run.stored_bytes > 0
    snapshots = subprocess.run(
        [*shlex.split(settings.BACKUP_RESTIC_COMMAND), "snapshots", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    (snapshot,) = json.loads(snapshots.stdout)
    assert snapshot["short_id"] == run.label or snapshot["id"].startswith(run.label)
    assert snapshot["tags"] == ["safetrain-media"]
    assert backups.restic_forget_command()[-7:] == [
        "--keep-daily",
        "35",
        "--keep-weekly",
        "10",
        "--keep-monthly",
        "72",
        "--prune",
    ]
    assert firing("BackupPruneFailed") == []
    assert backups_due_run() == []  # the next snapshot is due in 24 h


@pytest.mark.django_db
def test_ops_03_real_restic_copies_the_media_snapshots_off_site_every_week(
    restic_repository, settings, tmp_path
):
    offsite = tmp_path / "offsite-restic"
    password = tmp_path / "restic.password"
    settings.BACKUP_RESTIC_OFFSITE_COMMAND = (
        f"{RESTIC} --repo {offsite} --password-file {password} --no-cache"
    )
    init = subprocess.run(
        [*shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND), "init"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    local, copied = backups_due_run()  # the on-site snapshot first, then its copy off site
    assert (local.repo, local.ok, copied.repo, copied.ok) == (0, True, 2, True)
    listing = subprocess.run(
        [*shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND), "snapshots", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    (snapshot,) = json.loads(listing.stdout)
    assert snapshot["short_id"] == copied.label
    assert snapshot["tags"] == ["safetrain-media"]
    assert backups_due_run() == []  # next copy in 7 days
    # The copy is a restore source: the files come back from the off-site repository alone.
    target = tmp_path / "restored"
    restored = subprocess.run(
        [
            *shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND),
            "restore",
            "latest",
            "--target",
            str(target),
            "--verify",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restored.returncode == 0, restored.stderr
    media = Path(settings.BACKUP_MEDIA_PATHS[0])
    back = target / str(media).lstrip("/")
    assert (back / "videos" / "lesson.mp4").read_bytes() == (media / "videos" / "lesson.mp4").read_bytes()
    # A broken off-site repository is a failed run with its alarm.
    settings.BACKUP_RESTIC_OFFSITE_COMMAND = settings.BACKUP_RESTIC_OFFSITE_COMMAND.replace(
        "offsite-restic", "gone"
    )
    failed = backup_run(target="media", repo=2, kind="snapshot")
    assert failed.ok is False
    assert any(a.labels["repo"] == "2" for a in firing("BackupFailed"))


@pytest.mark.django_db
def test_ops_03_real_restic_failing_is_recorded_and_alarmed(restic_repository, settings):
    settings.BACKUP_RESTIC_COMMAND = settings.BACKUP_RESTIC_COMMAND.replace(
        "restic.password", "missing.password"
    )
    run = backup_run(target="media")
    assert run.ok is False
    assert run.exit_code != 0
    assert run.label == ""
    assert "password" in run.output.lower()
    (alarm,) = firing("BackupFailed")
    assert alarm.labels["target"] == "media"


# Real pgBackRest on a private cluster ----------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    return found[-1].parent if found else None


class Cluster:
    """A private PostgreSQL cluster whose WAL pgBackRest archives, and pgBackRest's configuration with repositories
    1 and 2 in the same temporary folder (as tests/test_faults.py: run as the postgres user when we are root)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port, self.bin = root, port, _postgres_bin()
        self.config = root / "pgbackrest.conf"
        self.as_root = os.geteuid() == 0

    def command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv)

    def run(self, *argv: str) -> None:
        result = subprocess.run(
            self.command(*argv), cwd=self.root, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"

    @property
    def pgbackrest(self) -> str:
        return shlex.join(self.command("pgbackrest", f"--config={self.config}", "--stanza=safetrain"))

    def start(self) -> None:
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        data = self.root / "data"
        self.run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
        )
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [global]
                repo1-path={self.root}/repo1
                repo2-path={self.root}/repo2
                repo1-retention-full=2
                repo2-retention-full=2
                log-path={self.root}/log
                lock-path={self.root}/lock
                start-fast=y
                log-level-file=off

                [safetrain]
                pg1-path={data}
                pg1-port={self.port}
                pg1-socket-path={self.root}
                """
            )
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"archive_mode = on\nwal_level = replica\n"
                f"archive_command = 'pgbackrest --config={self.config} --stanza=safetrain archive-push %p'\n"
            )
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "postgres.log"), "-w", "-t", "120",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip
        self.run("pgbackrest", f"--config={self.config}", "--stanza=safetrain", "stanza-create")

    def stop(self) -> None:
        subprocess.run(
            self.command(
                str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"
            ),
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    missing = [
        name
        for name, found in (
            ("pgbackrest", shutil.which("pgbackrest")),
            ("PostgreSQL's server binaries", _postgres_bin()),
            ("runuser", os.geteuid() != 0 or shutil.which("runuser")),
        )
        if not found
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: install Debian's pgbackrest and postgresql")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Not under pytest's tmp folder: that one is private to root, and the cluster runs as the postgres user.
    server = Cluster(Path(tempfile.mkdtemp(prefix="safetrain-backup-pg-")), port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.mark.django_db
def test_ops_03_real_pgbackrest_backs_up_both_repositories_and_is_recorded(cluster, settings):
    settings.BACKUP_PGBACKREST_COMMAND = cluster.pgbackrest
    settings.BACKUP_RESTIC_COMMAND = ""
    first, offsite = backups_due_run()
    assert (first.repo, first.requested_kind, first.kind, first.ok) == (1, "full", "full", True)
    assert (offsite.repo, offsite.kind, offsite.ok) == (2, "full", True)
    assert first.label.endswith("F")
    assert offsite.label.endswith("F")
    assert first.size_bytes > 1_000_000
    assert first.stored_bytes > 0
    incr = backup_run(target="database", repo=1, kind="incr")
    assert (incr.kind, incr.ok) == ("incr", True)
    assert incr.label.startswith(first.label + "_")
    assert incr.label.endswith("I")
    diff = backup_run(target="database", repo=2, kind="diff")
    assert (diff.kind, diff.ok) == ("diff", True)
    assert diff.label.endswith("D")
    info = subprocess.run(
        [*shlex.split(cluster.pgbackrest), "--output=json", "info"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    labels = {b["label"] for b in json.loads(info.stdout)[0]["backup"]}
    assert {first.label, offsite.label, incr.label, diff.label} <= labels


@pytest.mark.django_db
def test_ops_03_real_pgbackrest_failing_is_recorded_and_alarmed(cluster, settings):
    settings.BACKUP_PGBACKREST_COMMAND = cluster.pgbackrest.replace(
        "--stanza=safetrain", "--stanza=nonexistent"
    )
    settings.BACKUP_RESTIC_COMMAND = ""
    run = backup_run(target="database", repo=1, kind="incr")
    assert run.ok is False
    assert run.exit_code not in (0, None)
    assert "ERROR: [037]" in run.output  # pgBackRest's own message
    assert firing("BackupFailed")


# Restore drills ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ops_03_a_restore_drill_is_recorded_and_a_failed_one_raises_an_alarm(capsys):
    checks = [{"name": "row counts", "ok": True}, {"name": "record chain", "ok": False, "detail": "seal 17"}]
    call_command(
        "drill_record", "--failed", "--rto", "2400", "--rpo", "120", "--label", "20261207-020000F",
        "--target-time", "2026-12-07T01:55:00+08:00", "--details", json.dumps(checks),
    )  # fmt: skip
    assert "FAILED" in capsys.readouterr().out
    drill = RestoreDrill.objects.get()
    assert (drill.ok, drill.rto_seconds, drill.rpo_seconds, drill.label) == (
        False,
        2400,
        120,
        "20261207-020000F",
    )
    assert drill.target_time == dt.datetime(2026, 12, 6, 17, 55, tzinfo=dt.UTC)
    assert (drill.finished_at - drill.started_at).total_seconds() == 2400
    assert [c["name"] for c in drill.checks()] == ["row counts", "record chain"]
    (alarm,) = firing("RestoreDrillFailed")
    assert "record chain" in alarm.description
    assert "row counts" not in alarm.description
    drill_record(ok=True, rto_seconds=1800, rpo_seconds=60, label="x", details={"checks": []})
    assert firing("RestoreDrillFailed") == []
    with pytest.raises(CommandError, match="not JSON"):
        call_command("drill_record", "--ok", "--details", "{nope")
    with pytest.raises(CommandError):
        call_command("drill_record", "--ok", "--rto", "-5")
    with pytest.raises(CommandError):
        call_command("drill_record", "--rto", "5")  # neither --ok nor --failed
    assert RestoreDrill.objects.count() == 2


@pytest.mark.django_db
def test_ops_03_the_drill_scripts_steps_read_as_checks():
    """deploy/drill.py records its steps and the failure; the page and the alarm read them as checks."""
    steps = [
        {"step": "restore", "seconds": 812.4, "result": "ok"},
        {"step": "verify record chain", "seconds": 3.1, "result": "FAILED"},
    ]
    drill = drill_record(
        ok=False,
        rto_seconds=900,
        rpo_seconds=30,
        label="L",
        details={"steps": steps, "failure": "seal 17 differs"},
    )
    assert [(c["name"], c["ok"]) for c in drill.checks()] == [
        ("restore", True),
        ("verify record chain", False),
    ]
    (alarm,) = firing("RestoreDrillFailed")
    assert "verify record chain" in alarm.description
    assert "seal 17 differs" in alarm.description


# /metrics and the page --------------------------------------------------------------------------------------------


def scrape() -> dict[str, list]:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    return {f.name: f.samples for f in text_string_to_metric_families(response.content.decode())}


def values(samples: list) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in samples}


@pytest.mark.django_db
def test_ops_03_backups_and_drills_are_on_metrics(settings):
    settings.METRICS_TOKEN = ""
    settings.BACKUP_PGBACKREST_COMMAND, settings.BACKUP_RESTIC_COMMAND = "pgbackrest --stanza=safetrain", ""
    families = scrape()
    assert values(families["safetrain_backup_configured"]) == {
        (("target", "database"),): 1,
        (("target", "media"),): 0,
    }
    assert values(families["safetrain_backup_max_age_seconds"]) == {
        (("repo", "1"), ("target", "database")): 26 * 3600,
        (("repo", "2"), ("target", "database")): 7 * 86400 + 2 * 3600,
    }
    assert "safetrain_restore_drill_last_ok" not in families
    good = run_at(timezone.now() - 5 * H, kind="full")
    bad = run_at(timezone.now() - 1 * H, ok=False)
    drill_record(ok=True, rto_seconds=1800, rpo_seconds=60)
    drill_record(ok=False, rto_seconds=4000, rpo_seconds=90)
    families = scrape()
    database1 = (("repo", "1"), ("target", "database"))
    assert values(families["safetrain_backup_last_success_timestamp_seconds"]) == {
        database1: good.finished_at.timestamp()
    }
    assert values(families["safetrain_backup_last_failure_timestamp_seconds"]) == {
        database1: bad.finished_at.timestamp()
    }
    assert values(families["safetrain_backup_last_duration_seconds"]) == {database1: 600}
    assert values(families["safetrain_backup_last_size_bytes"]) == {database1: 1000}
    assert values(families["safetrain_backup_running"])[database1] == 0
    assert (
        families["safetrain_backup_first_success_timestamp_seconds"][0].value == good.finished_at.timestamp()
    )
    assert families["safetrain_restore_drill_last_ok"][0].value == 0
    assert families["safetrain_restore_drill_last_rto_seconds"][0].value == 4000
    assert families["safetrain_restore_drill_last_rpo_seconds"][0].value == 90
    ok_drill = RestoreDrill.objects.get(ok=True)
    assert (
        families["safetrain_restore_drill_last_success_timestamp_seconds"][0].value
        == ok_drill.finished_at.timestamp()
    )


@pytest.mark.django_db
def test_ops_03_a_provider_whose_database_fails_adds_nothing_and_the_scrape_answers(settings, monkeypatch):
    from django.db import DatabaseError

    from safetrain.core import metrics as core_metrics

    settings.METRICS_TOKEN = ""

    def broken() -> list:
        raise DatabaseError("the database is gone")

    # After the broken one, the test's transaction is broken too: the working provider comes first.
    monkeypatch.setattr(core_metrics, "_SCRAPE_GAUGE_PROVIDERS", [backup_gauges, broken])
    core_metrics.scrape_gauges_register(broken)  # registering twice adds it once
    assert core_metrics.scrape_gauges_providers() == (backup_gauges, broken)
    families = scrape()
    assert "safetrain_backup_configured" in families
    assert families["safetrain_database_up"][0].value == 1


@pytest.mark.django_db
def test_ops_03_operators_see_the_backups_page_others_do_not(world, web_client, settings):
    settings.BACKUP_PGBACKREST_COMMAND, settings.BACKUP_RESTIC_COMMAND = "", ""
    operator = web_client(world.operator)
    html = operator.get("/ops/backups/").content.decode()
    assert 'data-testid="not-configured"' in html
    assert (
        'href="/ops/backups/"' in operator.get("/ops/alarms/").content.decode()
    )  # in the menu beside the alarms
    settings.BACKUP_PGBACKREST_COMMAND = "pgbackrest --stanza=safetrain"
    run_at(timezone.now() - 2 * H, kind="full")
    failed = run_at(timezone.now() - 1 * H, ok=False)
    BackupRun.objects.filter(pk=failed.pk).update(output="ERROR: [056]: unable to find primary cluster")
    drill_record(
        ok=True,
        rto_seconds=1834,
        rpo_seconds=61,
        label="20261207-020000F",
        details=[{"name": "row counts", "ok": True}],
    )
    response = operator.get("/ops/backups/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="not-configured"' not in html
    assert 'data-testid="media-not-configured"' in html
    assert 'data-stream="database:1"' in html
    assert 'data-stream="database:2"' in html
    assert "unable to find primary cluster" in html
    assert "1834 s" in html
    assert "61 s" in html
    assert "row counts" in html
    assert 'data-ok="false"' in html
    assert 'data-ok="true"' in html
    for outsider in (world.regulator_city, world.admin_nanshan, world.learner_nanshan):
        page = web_client(outsider).get("/ops/backups/")
        assert page.status_code == 403
        assert "unable to find primary cluster" not in page.content.decode()
    assert Client().get("/ops/backups/").status_code == 302  # signed out: to the sign-in
