from django.core.management.base import BaseCommand, CommandError

from safetrain.records.models import AuditEntry
from safetrain.records.services import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain and report the first broken link (REC-04)."

    def handle(self, *args, **options) -> None:
        report = verify_chain(AuditEntry)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {report.checked} entries"))
            return
        raise CommandError(
            f"audit chain BROKEN at entry {report.broken_seq}: {report.reason} "
            f"({report.checked} entries before it are intact)"
        )
