"""Backups (数据备份, OPS-03): the schedule, the runs of pgBackRest and restic, their record, alarms and metrics.

Guangdong's platform rules make us commit to a database backup every 24 h (incremental), an off-site copy every 7 days
and a full backup every 30 days; Shanxi wants the records backed up. deploy/ configures the tools (pgBackRest's stanza
with repository 1 on site and 2 off site, restic's repository for the media files); the platform decides what is due,
runs it from Celery (integrations.backups_due, on the "backup" queue), records every run in BackupRun and tells the
operators: an alarm in the alarm log when a run fails or a backup is missed, gauges on /metrics for Prometheus.

The schedule is a pure function (`backup_decide`) of one stream's settings, the facts of its runs and the time, so
that its rules read and test as a table; `backups_due_run` persists what it decides.

- pgBackRest, per repository: the periodic kind (incremental in repository 1, differential in 2) when the newest
  successful backup is one period old; a full one instead when the repository holds no full backup younger than
  the full period. Since the full is due by the age of the last full, not by a date, a missed day never skips it.
- restic: a snapshot every period; each is complete by itself.
- A backup is due a check early (CHECK_EVERY), so that a daily run does not drift later by a check every day.
- After a failure the next try waits BACKUP_RETRY_MINUTES; a backup due longer than BACKUP_GRACE_HOURS is missed.

Only one backup runs at a time, on any node: a PostgreSQL advisory lock (`pg_try_advisory_lock`), held by the
session of the run; it goes with the session if the worker dies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError
from safetrain.integrations.models import BackupKind, BackupRun, BackupTarget, BackupTrigger
from safetrain.integrations.monitoring import alarm_raise, alarm_resolve

CHECK_EVERY = dt.timedelta(minutes=15)  # the beat's period of integrations.backups_due (config/settings.py)
LOCK_KEY = 0x5AFE_BAC0  # pg_try_advisory_lock's key for "a backup is running"
RESTIC_TAG = "safetrain-media"
OUTPUT_TAIL = 4000  # characters of a tool's output kept with a run
STOP_GRACE_SECONDS = 60  # after the timeout, SIGTERM; this long later, SIGKILL
INFO_TIMEOUT_SECONDS = 600
MAX_DRILL_DETAILS = 64 * 1024  # characters of a drill's details as JSON
DATABASE_REPOS = range(1, 257)  # pgBackRest's repo1..repo256

# Alarm names, as the Prometheus rules (deploy/prometheus/alerts.yml) name the same conditions.
BACKUP_FAILED = "BackupFailed"
BACKUP_MISSED = "BackupMissed"
BACKUP_PRUNE_FAILED = "BackupPruneFailed"
RESTORE_DRILL_FAILED = "RestoreDrillFailed"


class BackupBusy(DomainError):
    """Another backup holds the lock."""


# The schedule ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One scheduled backup: a target and repository, its periodic kind and period, and (pgBackRest) how often a
    full backup is due."""

    target: str
    repo: int
    kind: str
    period: dt.timedelta
    full_period: dt.timedelta | None = None

    @property
    def key(self) -> str:
        return f"{self.target}:{self.repo}"


@dataclass(frozen=True)
class StreamState:
    """What the table says about one stream: the start of its newest success and newest successful full backup,
    the end of its newest failure, its first attempt ever, and the start of a run in progress."""

    last_success: dt.datetime | None = None
    last_full: dt.datetime | None = None
    last_failure: dt.datetime | None = None
    first_attempt: dt.datetime | None = None
    running_since: dt.datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What the schedule says about one stream now: the kind of its next run, since when that run is due (None:
    never tried, due at once), whether to run it now, whether it waits after a failure, whether it is missed."""

    stream: Stream
    kind: str
    due_at: dt.datetime | None
    run_now: bool
    missed: bool
    retry_at: dt.datetime | None = None
    running: bool = False


def backup_decide(
    stream: Stream,
    state: StreamState,
    now: dt.datetime,
    *,
    grace: dt.timedelta,
    retry: dt.timedelta,
    slack: dt.timedelta = CHECK_EVERY,
) -> Decision:
    """The schedule's rule for one stream (pure: no database, no clock)."""
    if state.last_success is None:
        due_at = state.first_attempt  # due since the first try; never tried: due at once
    else:
        due_at = state.last_success + stream.period
        if stream.full_period is not None:
            # No full backup known (pgBackRest's answer was lost): one is due at once.
            full_due = state.last_full + stream.full_period if state.last_full else state.last_success
            due_at = min(due_at, full_due)
    due = due_at is None or now + slack > due_at
    kind = stream.kind
    if stream.full_period is not None:
        at = now if due or due_at is None else due_at
        if state.last_full is None or at + slack > state.last_full + stream.full_period:
            kind = BackupKind.FULL
    retry_at = None
    failed_since_success = state.last_failure is not None and (
        state.last_success is None or state.last_failure > state.last_success
    )
    if due and failed_since_success and now < state.last_failure + retry:  # type: ignore[operator]
        retry_at = state.last_failure + retry  # type: ignore[operator]
    running = state.running_since is not None
    return Decision(
        stream=stream,
        kind=kind,
        due_at=due_at,
        run_now=due and retry_at is None and not running,
        # A backup in progress is not missed: it ends within BACKUP_TIMEOUT_SECONDS, and a failure raises its alarm.
        missed=due_at is not None and now > due_at + grace and not running,
        retry_at=retry_at,
        running=running,
    )


def backup_plan() -> list[Stream]:
    """The streams this installation's settings ask for; none when the tools are not configured here."""
    streams = []
    if settings.BACKUP_PGBACKREST_COMMAND:
        streams.append(
            Stream(
                BackupTarget.DATABASE,
                1,
                BackupKind.INCR,
                dt.timedelta(hours=settings.BACKUP_DATABASE_INCR_HOURS),
                dt.timedelta(days=settings.BACKUP_DATABASE_FULL_DAYS),
            )
        )
        if settings.BACKUP_OFFSITE_DIFF_DAYS > 0:
            streams.append(
                Stream(
                    BackupTarget.DATABASE,
                    2,
                    BackupKind.DIFF,
                    dt.timedelta(days=settings.BACKUP_OFFSITE_DIFF_DAYS),
                    dt.timedelta(days=settings.BACKUP_OFFSITE_FULL_DAYS),
                )
            )
    if settings.BACKUP_RESTIC_COMMAND:
        streams.append(
            Stream(
                BackupTarget.MEDIA, 0, BackupKind.SNAPSHOT, dt.timedelta(hours=settings.BACKUP_MEDIA_HOURS)
            )
        )
        if settings.BACKUP_RESTIC_OFFSITE_COMMAND:
            # The off-site copy of the media: the on-site repository's new snapshots copied across (restic copy).
            streams.append(
                Stream(
                    BackupTarget.MEDIA,
                    2,
                    BackupKind.SNAPSHOT,
                    dt.timedelta(days=settings.BACKUP_MEDIA_OFFSITE_DAYS),
                )
            )
    return streams


def _grace() -> dt.timedelta:
    return dt.timedelta(hours=settings.BACKUP_GRACE_HOURS)


def _running_cutoff(now: dt.datetime) -> dt.datetime:
    """A run without an end that started before this was interrupted (its worker died), whatever the table says."""
    return now - dt.timedelta(seconds=settings.BACKUP_TIMEOUT_SECONDS + STOP_GRACE_SECONDS + 600)


def backup_states(now: dt.datetime | None = None) -> dict[tuple[str, int], StreamState]:
    """The facts of every stream that has runs, from the table (one query)."""
    now = now or timezone.now()
    rows = BackupRun.objects.values("target", "repo").annotate(
        last_success=Max("started_at", filter=Q(ok=True)),
        last_full=Max("started_at", filter=Q(ok=True, kind=BackupKind.FULL)),
        last_failure=Max("finished_at", filter=Q(ok=False)),
        first_attempt=Min("started_at"),
        running_since=Max("started_at", filter=Q(ok__isnull=True, started_at__gte=_running_cutoff(now))),
    )
    return {
        (row.pop("target"), row.pop("repo")): StreamState(**row)  # type: ignore[arg-type]
        for row in rows.order_by()
    }


def backups_decide(now: dt.datetime | None = None) -> list[Decision]:
    """The schedule's decision for every planned stream now."""
    now = now or timezone.now()
    states = backup_states(now)
    retry = dt.timedelta(minutes=settings.BACKUP_RETRY_MINUTES)
    return [
        backup_decide(
            stream, states.get((stream.target, stream.repo), StreamState()), now, grace=_grace(), retry=retry
        )
        for stream in backup_plan()
    ]


def backups_due_run(*, trigger: str = BackupTrigger.SCHEDULE) -> list[BackupRun]:
    """The periodic task (every CHECK_EVERY): alarm for the missed backups, resolve the alarms of those no longer
    missed, then run whatever is due, one after the other. Stops when another backup holds the lock."""
    decisions = backups_decide()
    _missed_alarms(decisions)
    runs = []
    for decision in decisions:
        if not decision.run_now:
            continue
        stream = decision.stream
        try:
            runs.append(
                backup_run(target=stream.target, repo=stream.repo, kind=decision.kind, trigger=trigger)
            )
        except BackupBusy:
            break
    return runs


def _missed_alarms(decisions: list[Decision]) -> None:
    planned = {d.stream.key for d in decisions}
    for decision in decisions:
        stream = decision.stream
        if not decision.missed:
            alarm_resolve(key=f"missed:{stream.key}")
            continue
        with translation.override(settings.LANGUAGE_CODE):
            alarm_raise(
                name=BACKUP_MISSED,
                key=f"missed:{stream.key}",
                summary=_("The %(what)s backup is overdue since %(since)s")
                % {"what": stream_name(stream.target, stream.repo), "since": _local(decision.due_at)},
                description=_(
                    "No successful backup within its period and the grace of %(grace)s hours. Check the backup "
                    'worker (Celery queue "backup") and the last runs on the backups page.'
                )
                % {"grace": f"{settings.BACKUP_GRACE_HOURS:g}"},
                labels={"target": stream.target, "repo": str(stream.repo)},
            )
    for target, repo in ((BackupTarget.DATABASE, 1), (BackupTarget.DATABASE, 2), (BackupTarget.MEDIA, 0)):
        if f"{target}:{repo}" not in planned:  # switched off here: nothing can be missed any more
            alarm_resolve(key=f"missed:{target}:{repo}")


def stream_name(target: str, repo: int) -> str:
    if target == BackupTarget.MEDIA:
        return _("media files (off site)") if repo == 2 else _("media files")
    if repo == 1:
        return _("database (on site)")
    if repo == 2:
        return _("database (off site)")
    return _("database (repository %(repo)s)") % {"repo": repo}


def _local(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


# Running a backup ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one run of a tool came to."""

    ok: bool
    exit_code: int | None = None
    kind: str = ""
    label: str = ""
    size_bytes: int | None = None
    stored_bytes: int | None = None
    output: str = ""
    prune_error: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Completed:
    exit_code: int | None  # None: stopped at the timeout
    stdout: str
    stderr: str

    def tail(self) -> str:
        return _tail("\n".join(part for part in (self.stderr.strip(), self.stdout.strip()) if part))


def _tail(text: str) -> str:
    return text[-OUTPUT_TAIL:]


def command_run(argv: list[str], *, timeout: float, keep_bytes: int = 1 << 20) -> Completed:
    """Run a tool in a process group of its own (`runuser -- pgbackrest` has children), its output in temporary
    files rather than memory (restic prints progress for hours). At the timeout the whole group gets SIGTERM, and
    SIGKILL a minute later. Keeps the last `keep_bytes` of each output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        try:
            exit_code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            exit_code = None
            _stop_group(process)
        return Completed(exit_code, _read_tail(out, keep_bytes), _read_tail(err, keep_bytes))


def _stop_group(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_tail(handle: Any, keep: int) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - keep))
    return handle.read().decode("utf-8", "replace")


@contextlib.contextmanager
def _backup_lock() -> Iterator[None]:
    """One backup at a time on PostgreSQL (any node, any worker, the management command); elsewhere (SQLite, a
    developer's machine) no lock."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        (taken,) = cursor.fetchone()
    if not taken:
        raise BackupBusy("backup_busy", _("Another backup is running. Try again when it has finished."))
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        except DatabaseError:  # the session is gone, and its lock with it
            connection.close_if_unusable_or_obsolete()


def _check_request(target: str, repo: int, kind: str) -> None:
    if target == BackupTarget.DATABASE:
        if not settings.BACKUP_PGBACKREST_COMMAND:
            raise DomainError(
                "not_configured", _("Database backups are not configured on this installation.")
            )
        if repo not in DATABASE_REPOS or kind not in (BackupKind.FULL, BackupKind.DIFF, BackupKind.INCR):
            raise DomainError(
                "invalid_backup", _("A database backup needs a repository and the kind full, diff or incr.")
            )
    elif target == BackupTarget.MEDIA:
        if not settings.BACKUP_RESTIC_COMMAND:
            raise DomainError("not_configured", _("Media backups are not configured on this installation."))
        if (
            repo not in (0, 2)
            or kind != BackupKind.SNAPSHOT
            or (repo == 2 and not settings.BACKUP_RESTIC_OFFSITE_COMMAND)
        ):
            raise DomainError(
                "invalid_backup",
                _(
                    "A media backup is a snapshot: without a repository number, or repository 2 for the off-site "
                    "copy when BACKUP_RESTIC_OFFSITE_COMMAND is set."
                ),
            )
    else:
        raise DomainError("invalid_backup", _("Unknown backup target."))


def backup_run(
    *, target: str, repo: int = 0, kind: str = "", trigger: str = BackupTrigger.COMMAND
) -> BackupRun:
    """Run one backup now and record it: the row is written at the start (ok unknown) and completed at the end,
    with pgBackRest's backup label, kind and size (from `info --output=json`) or restic's snapshot id and bytes. A
    failure raises the alarm BackupFailed; a success resolves it and the stream's BackupMissed.

    Not one transaction: a backup runs for hours, and its start must be visible meanwhile; each write is short.
    Raises BackupBusy when another backup holds the lock, DomainError when the target is not configured here."""
    kind = kind or (BackupKind.SNAPSHOT if target == BackupTarget.MEDIA else BackupKind.INCR)
    _check_request(target, repo, kind)
    with _backup_lock():
        _runs_interrupted_close()
        run = BackupRun.objects.create(
            target=target,
            repo=repo,
            requested_kind=kind,
            trigger=trigger,
            started_at=timezone.now(),
            node=socket.gethostname()[:100],
        )
        try:
            if target == BackupTarget.DATABASE:
                outcome = _pgbackrest_backup(repo=repo, kind=kind, started_at=run.started_at)
            elif repo == 2:
                outcome = _restic_copy()
            else:
                outcome = _restic_backup()
        except (OSError, ValueError, subprocess.SubprocessError) as exc:  # no such command, a bad prefix
            outcome = Outcome(ok=False, output=f"{exc.__class__.__name__}: {exc}")
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # PostgreSQL restarted during the run: record it on a new session
        return backup_finish(run_id=run.pk, outcome=outcome)


@transaction.atomic
def _runs_interrupted_close() -> int:
    """Runs still open were interrupted (the worker died, the machine restarted). Under the lock on PostgreSQL no
    other run is going on; elsewhere only runs past the timeout count."""
    now = timezone.now()
    open_runs = BackupRun.objects.filter(ok__isnull=True)
    if connection.vendor != "postgresql":
        open_runs = open_runs.filter(started_at__lt=_running_cutoff(now))
    return open_runs.update(
        ok=False, finished_at=now, output="interrupted: the run ended without recording its outcome"
    )


@transaction.atomic
def backup_finish(*, run_id: int, outcome: Outcome) -> BackupRun:
    """Record a run's outcome and tell the operators: BackupFailed raised or resolved, BackupMissed resolved."""
    run = BackupRun.objects.select_for_update().get(pk=run_id)
    run.finished_at = timezone.now()
    run.ok = outcome.ok
    run.exit_code = outcome.exit_code
    run.kind = outcome.kind
    run.label = outcome.label[:100]
    run.size_bytes = outcome.size_bytes
    run.stored_bytes = outcome.stored_bytes
    run.output = _tail("\n".join([*outcome.notes, outcome.output]).strip())
    run.save()
    key = f"{run.target}:{run.repo}"
    with translation.override(settings.LANGUAGE_CODE):
        what = stream_name(run.target, run.repo)
        if run.ok:
            alarm_resolve(key=f"backup:{key}")
            alarm_resolve(key=f"missed:{key}")
        else:
            alarm_raise(
                name=BACKUP_FAILED,
                key=f"backup:{key}",
                summary=_("The %(what)s backup failed") % {"what": what},
                description=_("Run %(run)s on %(node)s at %(at)s: %(output)s")
                % {
                    "run": run.pk,
                    "node": run.node,
                    "at": _local(run.started_at),
                    "output": run.output[-1000:] or _("no output"),
                },
                labels={"target": run.target, "repo": str(run.repo)},
            )
        if run.target == BackupTarget.MEDIA and run.ok:
            if outcome.prune_error:
                alarm_raise(
                    name=BACKUP_PRUNE_FAILED,
                    key=f"prune:{key}",
                    severity="warning",
                    summary=_("Old media snapshots could not be removed"),
                    description=outcome.prune_error[-1000:],
                    labels={"target": run.target, "repo": str(run.repo)},
                )
            else:
                alarm_resolve(key=f"prune:{key}")
    return run


def _pgbackrest(*args: str) -> list[str]:
    return [*shlex.split(settings.BACKUP_PGBACKREST_COMMAND), *args]


def _restic(*args: str) -> list[str]:
    return [*shlex.split(settings.BACKUP_RESTIC_COMMAND), *args]


def pgbackrest_backup_command(*, repo: int, kind: str) -> list[str]:
    return _pgbackrest(f"--repo={repo}", f"--type={kind}", "backup")


def pgbackrest_info_command(*, repo: int) -> list[str]:
    return _pgbackrest(f"--repo={repo}", "--output=json", "info")


def restic_backup_command() -> list[str]:
    return _restic("backup", "--json", "--tag", RESTIC_TAG, *settings.BACKUP_MEDIA_PATHS)


def restic_copy_command() -> list[str]:
    """The on-site repository's snapshots copied into the off-site one; restic copies only those it lacks."""
    source = shlex.split(settings.BACKUP_RESTIC_COMMAND)
    return [
        *shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND),
        "copy",
        "--tag",
        RESTIC_TAG,
        "--from-repo",
        _option(source, "--repo", "-r"),
        "--from-password-file",
        _option(source, "--password-file", "-p"),
    ]


def _option(argv: list[str], *names: str) -> str:
    for index, word in enumerate(argv):
        if word in names and index + 1 < len(argv):
            return argv[index + 1]
        for name in names:
            if name.startswith("--") and word.startswith(name + "="):
                return word.split("=", 1)[1]
    raise ValueError(f"BACKUP_RESTIC_COMMAND names no {names[0]}: the off-site copy needs it")


def restic_forget_command(*, offsite: bool = False) -> list[str]:
    if offsite:
        return [
            *shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND),
            *restic_forget_command()[len(_restic()) :],
        ]
    return _restic(
        "forget",
        "--tag",
        RESTIC_TAG,
        "--keep-daily",
        str(settings.BACKUP_RESTIC_KEEP_DAILY),
        "--keep-weekly",
        str(settings.BACKUP_RESTIC_KEEP_WEEKLY),
        "--keep-monthly",
        str(settings.BACKUP_RESTIC_KEEP_MONTHLY),
        "--prune",
    )


def _stopped() -> str:
    return f"stopped after {settings.BACKUP_TIMEOUT_SECONDS} s (BACKUP_TIMEOUT_SECONDS)"


def _pgbackrest_backup(*, repo: int, kind: str, started_at: dt.datetime) -> Outcome:
    """`pgbackrest --repo=N --type=KIND backup`, then `info` for what it made: the newest backup of the repository,
    which must have started after this run did."""
    completed = command_run(
        pgbackrest_backup_command(repo=repo, kind=kind), timeout=settings.BACKUP_TIMEOUT_SECONDS
    )
    outcome = Outcome(ok=completed.exit_code == 0, exit_code=completed.exit_code, output=completed.tail())
    if completed.exit_code is None:
        outcome.notes.append(_stopped())
    if not outcome.ok:
        return outcome
    # pgBackRest turns an incremental or differential backup into a full one when there is none to build on; it
    # never does less than asked. Without its answer, the kind asked for is the safe assumption.
    outcome.kind = kind
    info = command_run(
        pgbackrest_info_command(repo=repo),
        timeout=min(INFO_TIMEOUT_SECONDS, settings.BACKUP_TIMEOUT_SECONDS),
        keep_bytes=64 << 20,
    )
    backup = pgbackrest_newest_backup(info.stdout, repo=repo) if info.exit_code == 0 else None
    if backup is None:
        outcome.notes.append(f"pgbackrest info gave no backup of repository {repo}: {info.tail()[-500:]}")
        return outcome
    stop = backup.get("timestamp", {}).get("stop")
    if isinstance(stop, int | float) and stop < started_at.timestamp() - 60:
        outcome.ok = False
        outcome.notes.append(
            f"pgbackrest reported success, but the newest backup ({backup.get('label')}) is older"
        )
        return outcome
    sizes = backup.get("info") or {}
    outcome.kind = backup.get("type") if backup.get("type") in BackupKind.values else kind
    outcome.label = str(backup.get("label") or "")
    outcome.size_bytes = _int(sizes.get("size"))
    outcome.stored_bytes = _int((sizes.get("repository") or {}).get("delta"))
    if backup.get("error"):
        # Page checksum errors in the cluster's files: the backup exists, the database needs attention.
        outcome.ok = False
        outcome.notes.append(
            "pgbackrest found page checksum errors in the database files (backup error flag)"
        )
    return outcome


def pgbackrest_newest_backup(info_json: str, *, repo: int) -> dict | None:
    """The newest backup of repository `repo` in `pgbackrest --output=json info` (a list of stanzas, each with its
    backups in all repositories)."""
    try:
        stanzas = json.loads(info_json)
    except ValueError:
        return None
    backups = [
        backup
        for stanza in (stanzas if isinstance(stanzas, list) else [])
        if isinstance(stanza, dict)
        for backup in stanza.get("backup") or []
        if isinstance(backup, dict) and (backup.get("database") or {}).get("repo-key", repo) == repo
    ]
    if not backups:
        return None
    return max(backups, key=lambda b: ((b.get("timestamp") or {}).get("stop") or 0, str(b.get("label"))))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def restic_summary(stdout: str) -> dict | None:
    """The summary of `restic backup --json`: its last line of message_type "summary"."""
    for line in reversed(stdout.splitlines()):
        if '"summary"' not in line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("message_type") == "summary":
            return message
    return None


def _restic_copy() -> Outcome:
    """`restic copy` of the new media snapshots into the off-site repository, then its own `forget ... --prune`;
    the run's label is the newest snapshot there."""
    completed = command_run(restic_copy_command(), timeout=settings.BACKUP_TIMEOUT_SECONDS)
    outcome = Outcome(
        ok=completed.exit_code == 0,
        exit_code=completed.exit_code,
        kind=BackupKind.SNAPSHOT,
        output=_tail((completed.stderr + completed.stdout).strip()),
    )
    if completed.exit_code is None:
        outcome.notes.append(_stopped())
    if not outcome.ok:
        outcome.kind = ""
        return outcome
    listing = command_run(
        [*shlex.split(settings.BACKUP_RESTIC_OFFSITE_COMMAND), "snapshots", "--json", "--tag", RESTIC_TAG],
        timeout=INFO_TIMEOUT_SECONDS,
    )
    try:
        snapshots = json.loads(listing.stdout or "[]") or []
    except ValueError:
        snapshots = []
    if not snapshots:
        outcome.ok, outcome.kind = False, ""
        outcome.notes.append("the off-site repository holds no media snapshot after the copy")
        return outcome
    outcome.label = str(max(snapshots, key=lambda s: s.get("time", ""))["short_id"])
    forget = command_run(restic_forget_command(offsite=True), timeout=settings.BACKUP_TIMEOUT_SECONDS)
    if forget.exit_code != 0:
        outcome.prune_error = forget.tail() or f"restic forget exited with {forget.exit_code}"
        outcome.notes.append(f"restic forget --prune failed: {outcome.prune_error[-500:]}")
    return outcome


def _restic_backup() -> Outcome:
    """`restic backup --json --tag safetrain-media PATHS`, then `restic forget ... --prune` after a success. restic
    exits 3 when some files could not be read: the snapshot is incomplete, so the run failed."""
    completed = command_run(restic_backup_command(), timeout=settings.BACKUP_TIMEOUT_SECONDS)
    summary = restic_summary(completed.stdout) or {}
    outcome = Outcome(
        ok=completed.exit_code == 0 and bool(summary.get("snapshot_id")),
        exit_code=completed.exit_code,
        kind=BackupKind.SNAPSHOT,
        label=str(summary.get("snapshot_id") or ""),
        size_bytes=_int(summary.get("total_bytes_processed")),
        stored_bytes=_int(summary.get("data_added")),
        output=_tail(completed.stderr.strip()),
    )
    if completed.exit_code is None:
        outcome.notes.append(_stopped())
    if completed.exit_code == 3:
        outcome.notes.append("restic could not read some files: the snapshot is incomplete")
    if not outcome.ok:
        outcome.kind = ""
        return outcome
    forget = command_run(restic_forget_command(), timeout=settings.BACKUP_TIMEOUT_SECONDS)
    if forget.exit_code != 0:
        outcome.prune_error = forget.tail() or f"restic forget exited with {forget.exit_code}"
        outcome.notes.append(f"restic forget --prune failed: {outcome.prune_error[-500:]}")
    return outcome
