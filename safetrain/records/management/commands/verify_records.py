from django.core.management.base import BaseCommand, CommandError

from safetrain.records.models import AuditEntry
from safetrain.records.sealing import seal_all, verify_records
from safetrain.records.services import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit chain and the study and exam records against their seals, online and in archive files "
        "(REC-04). --seal first seals what was written since the last seal."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seal", action="store_true", help="seal new records before checking")

    def handle(self, *args, **options) -> None:
        if options["seal"]:
            sealed = seal_all()
            self.stdout.write(f"sealed: {sealed}")
        audit = verify_chain(AuditEntry)
        records = verify_records()
        self.stdout.write(f"audit chain: {audit.checked} entries, {'OK' if audit.ok else 'BROKEN'}")
        self.stdout.write(
            f"record seals: {records.seals}; records checked online {records.rows}, in archive files "
            f"{records.archived_rows}; not sealed yet {records.unsealed}"
        )
        problems = list(records.problems)
        if not audit.ok:
            problems.insert(0, f"audit chain broken at entry {audit.broken_seq}: {audit.reason}")
        if problems:
            for problem in problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(f"{len(problems)} problem(s) found")
        self.stdout.write(self.style.SUCCESS("all records match their seals"))
