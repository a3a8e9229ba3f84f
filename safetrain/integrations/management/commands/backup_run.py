"""`manage.py backup_run`: run a backup now (OPS-03), recorded like the scheduled ones.

    manage.py backup_run database --repo 1 --type full
    manage.py backup_run media
    manage.py backup_run --due          # whatever the schedule says is due, as the periodic task does

Prints each run; exits non-zero when a run failed, another backup is running or the target is not configured.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError
from safetrain.integrations.backups import backup_run, backups_decide, backups_due_run, stream_name
from safetrain.integrations.models import BackupKind, BackupRun, BackupTarget, BackupTrigger


class Command(BaseCommand):
    help = "Run a database (pgBackRest) or media (restic) backup now, or whatever backup is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", nargs="?", choices=BackupTarget.values)
        parser.add_argument("--repo", type=int, default=None, help="pgBackRest repository (default 1)")
        parser.add_argument(
            "--type",
            dest="kind",
            choices=[BackupKind.FULL, BackupKind.DIFF, BackupKind.INCR],
            default=BackupKind.INCR,
            help="pgBackRest backup type (default incr; pgBackRest makes it full when there is none yet)",
        )
        parser.add_argument("--due", action="store_true", help="run whatever the schedule says is due")

    def handle(self, *args, target: str | None, repo: int | None, kind: str, due: bool, **options) -> None:
        if due == bool(target):
            raise CommandError("Name a target (database or media) or give --due.")
        try:
            if due:
                runs = backups_due_run(trigger=BackupTrigger.COMMAND)
                if not runs and any(d.run_now for d in backups_decide()):
                    # backups_due_run stops quietly when another backup holds the lock; a command must say so.
                    raise CommandError(_("Another backup is running. Try again when it has finished."))
                if not runs:
                    self.stdout.write("nothing is due")
            elif target == BackupTarget.MEDIA:
                # --repo 2: the off-site copy (restic copy into BACKUP_RESTIC_OFFSITE_COMMAND's repository)
                runs = [backup_run(target=target, repo=repo or 0, kind=BackupKind.SNAPSHOT)]
            else:
                runs = [backup_run(target=BackupTarget.DATABASE, repo=repo or 1, kind=kind)]
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for run in runs:
            self.stdout.write(describe(run))
        failed = [run for run in runs if not run.ok]
        if failed:
            for run in failed:
                self.stderr.write(run.output)
            raise CommandError(f"{len(failed)} of {len(runs)} backup(s) failed")


def describe(run: BackupRun) -> str:
    kind = run.kind or run.requested_kind
    if run.kind and run.kind != run.requested_kind:
        kind = f"{run.kind} (asked {run.requested_kind})"
    result = "ok" if run.ok else f"FAILED (exit {run.exit_code})"
    size = f", {run.size_bytes} bytes" if run.size_bytes is not None else ""
    duration = f"{run.duration_seconds:.0f} s" if run.duration_seconds is not None else "-"
    return f"run {run.pk}: {stream_name(run.target, run.repo)} {kind}: {result}, {run.label or '-'}{size}, {duration}"
