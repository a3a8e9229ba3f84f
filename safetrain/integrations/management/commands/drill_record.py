"""`manage.py drill_record`: record the result of a restore drill (恢复演练, OPS-03), as the drill script in deploy/
does on the live database after restoring a backup elsewhere and checking it.

    manage.py drill_record --ok --rto 1840 --rpo 300 --label 20261207-020000F \
        --target-time 2026-12-07T01:55:00+08:00 --details '{"checks": [{"name": "row counts", "ok": true}]}'

A failed drill (--failed) raises the alarm RestoreDrillFailed; the next successful one resolves it.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from safetrain.core.errors import DomainError
from safetrain.integrations.backup_status import drill_record


def moment(value: str) -> dt.datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 time: {value}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "Record the result of a restore drill (RTO, RPO, the backup restored, each check)."

    def add_arguments(self, parser: CommandParser) -> None:
        result = parser.add_mutually_exclusive_group(required=True)
        result.add_argument("--ok", action="store_true", dest="ok", default=None)
        result.add_argument("--failed", action="store_false", dest="ok")
        parser.add_argument(
            "--rto", type=float, default=None, help="seconds until the restored platform answered"
        )
        parser.add_argument(
            "--rpo", type=float, default=None, help="seconds of changes the restored copy lacks"
        )
        parser.add_argument("--label", default="", help="the pgBackRest backup label restored")
        parser.add_argument(
            "--target-time", type=moment, default=None, help="point-in-time target (ISO 8601)"
        )
        parser.add_argument(
            "--details", default="{}", help='JSON: {"checks": [{"name", "ok", "detail"}]} or a list'
        )
        parser.add_argument(
            "--started-at", type=moment, default=None, help="ISO 8601; default: end minus RTO"
        )
        parser.add_argument("--finished-at", type=moment, default=None, help="ISO 8601; default: now")
        parser.add_argument("--node", default="", help="where the drill ran (default: this host)")

    def handle(self, *args, **options) -> None:
        try:
            details = json.loads(options["details"])
        except ValueError as exc:
            raise CommandError(f"--details is not JSON: {exc}") from exc
        try:
            drill = drill_record(
                ok=options["ok"],
                rto_seconds=options["rto"],
                rpo_seconds=options["rpo"],
                label=options["label"],
                target_time=options["target_time"],
                details=details,
                started_at=options["started_at"],
                finished_at=options["finished_at"],
                node=options["node"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"restore drill {drill.pk} recorded: {'ok' if drill.ok else 'FAILED'}")
