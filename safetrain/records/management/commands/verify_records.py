from django.core.management.base import BaseCommand, CommandError

from safetrain.records.management.commands.verify_audit_chain import as_of_argument
from safetrain.records.models import AuditEntry
from safetrain.records.sealing import seal_all, verify_records
from safetrain.records.services import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit chain and the study and exam records against their seals, online and in archive files, "
        "and both chains against their newest signed checkpoints (REC-04, OPS-06). --seal first seals what was "
        "written since the last seal."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seal", action="store_true", help="seal new records before checking")
        as_of_argument(parser)

    def handle(self, *args, **options) -> None:
        as_of = options["as_of"]
        if as_of is not None and as_of.tzinfo is None:
            raise CommandError("--as-of needs a time zone, e.g. 2026-12-07T10:00:00+08:00")
        if options["seal"]:
            sealed = seal_all()
            self.stdout.write(f"sealed: {sealed}")
        audit = verify_chain(AuditEntry, as_of=as_of)
        records = verify_records(as_of=as_of)
        self.stdout.write(
            f"audit chain: {audit.checked} entries, {'OK' if audit.ok else 'BROKEN'}; {audit.checkpoint}"
        )
        self.stdout.write(
            f"record seals: {records.seals}; records checked online {records.rows}, in archive files "
            f"{records.archived_rows}; not sealed yet {records.unsealed}; {records.checkpoint}"
        )
        problems = list(records.problems)
        if not audit.ok:
            problems.insert(0, f"audit chain broken at entry {audit.broken_seq}: {audit.reason}")
        if problems:
            for problem in problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(f"{len(problems)} problem(s) found")
        self.stdout.write(self.style.SUCCESS("all records match their seals"))
