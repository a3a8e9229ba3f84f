import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from safetrain.records.models import AuditEntry
from safetrain.records.services import verify_chain


def as_of_argument(parser) -> None:
    parser.add_argument(
        "--as-of",
        type=dt.datetime.fromisoformat,
        help="on a copy restored to this moment (ISO time with its zone, e.g. the newest restored transaction): "
        "compare with the newest checkpoint taken at or before it, not the newest of all",
    )


class Command(BaseCommand):
    help = (
        "Check the audit trail's keyed hash chain, report the first broken link, and compare it with its newest "
        "signed checkpoint in storage (REC-04, OPS-06)."
    )

    def add_arguments(self, parser) -> None:
        as_of_argument(parser)

    def handle(self, *args, **options) -> None:
        as_of = options["as_of"]
        if as_of is not None and as_of.tzinfo is None:
            raise CommandError("--as-of needs a time zone, e.g. 2026-12-07T10:00:00+08:00")
        report = verify_chain(AuditEntry, as_of=as_of)
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(f"audit chain OK: {report.checked} entries; {report.checkpoint}")
            )
            return
        at = f"at entry {report.broken_seq}" if report.broken_seq else "(checkpoint)"
        raise CommandError(
            f"audit chain BROKEN {at}: {report.reason} ({report.checked} entries before it are intact; "
            f"{report.checkpoint or 'no checkpoint compared'})"
        )
