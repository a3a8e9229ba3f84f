"""`manage.py rebuild_statistics`: recompute the regulator statistics cube (REG-01) from the records.
`--check` only compares and lists the cells that differ (exit status 1 when any does)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from safetrain.regulator import counters


class Command(BaseCommand):
    help = "Recompute the pre-aggregated regulator statistics from the records, or check them (--check)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="compare only; list the cells that differ")

    def handle(self, *args, check: bool, **options) -> None:
        started = time.monotonic()
        if check:
            found = counters.differences()
            for line in found:
                self.stdout.write(line)
            if found:
                raise CommandError(
                    f"{len(found)} statistics cells differ from the records; run rebuild_statistics"
                )
            self.stdout.write(f"statistics match the records ({time.monotonic() - started:.1f} s)")
            return
        rows = counters.rebuild()
        self.stdout.write(f"statistics rebuilt: {rows} cells in {time.monotonic() - started:.1f} s")
