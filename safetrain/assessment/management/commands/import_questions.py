"""manage.py import_questions FILE --programme CODE [--valid-rows]: a bank file into a programme's bank (EXM-01)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safetrain.assessment.bank import questions_import
from safetrain.catalog.models import Programme
from safetrain.core.errors import DomainError


class Command(BaseCommand):
    help = "Import exam questions from an Excel file in the bank template."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--programme", required=True, help="programme code")
        parser.add_argument(
            "--valid-rows", action="store_true", help="import the valid rows even if some are faulty"
        )

    def handle(self, *args, **options):
        programme = Programme.objects.filter(code=options["programme"]).first()
        if programme is None:
            raise CommandError(f"no programme with the code {options['programme']}")
        try:
            result = questions_import(
                programme=programme, data=options["file"].read_bytes(), valid_rows_only=options["valid_rows"]
            )
        except (DomainError, OSError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        for error in result.errors:
            self.stderr.write(f"row {error.row}, {error.column}: {error.message}")
        if not result.imported:
            raise CommandError(f"nothing imported: {len(result.errors)} errors")
        self.stdout.write(
            f"{result.created} imported, {result.unchanged} already in the bank, {result.skipped_rows} rows left out"
        )
