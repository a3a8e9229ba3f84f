import json

from django.core.management.base import BaseCommand

from safetrain.records.sealing import SOURCES, archive_old_records, seal_all


class Command(BaseCommand):
    help = (
        "Move study records older than RECORD_ONLINE_MONTHS to an offline archive file (gzip JSON lines with a "
        "SHA-256) and out of the database (REC-02). --dry-run lists what would move."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--source", default="study", choices=sorted(SOURCES))

    def handle(self, *args, **options) -> None:
        if not options["dry_run"]:
            seal_all()
        result = archive_old_records(options["source"], dry_run=options["dry_run"])
        self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
