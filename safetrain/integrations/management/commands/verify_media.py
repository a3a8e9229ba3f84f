from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from safetrain.integrations.mediacheck import media_verify


class Command(BaseCommand):
    help = (
        "Check the media files the records name (reference photos against their SHA-256, snapshots decrypt, "
        "archive files present) in MEDIA_ROOT; the restore drill runs it on the restored copy."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--taken-at",
            help="the media backup's time (ISO 8601): rows written later are counted apart, not checked",
        )

    def handle(self, *args, **options) -> None:
        taken_at = None
        if options["taken_at"]:
            taken_at = parse_datetime(options["taken_at"])
            if taken_at is None or taken_at.tzinfo is None:
                raise CommandError(
                    f"--taken-at {options['taken_at']!r}: write a time with its zone, ISO 8601"
                )
        report = media_verify(taken_at=taken_at)
        self.stdout.write(
            f"media files checked: {report.checked}; newer than the media backup: {report.newer}"
        )
        if not report.ok:
            for problem in report.problems[:50]:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(f"{len(report.problems)} media problem(s) found")
        self.stdout.write(self.style.SUCCESS("every media file matches its record"))
