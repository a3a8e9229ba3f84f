from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safetrain.accounts.models import User
from safetrain.orgs.models import Organisation
from safetrain.records.archive import handover_zip


class Command(BaseCommand):
    help = (
        "Hand-over export (REC-05): every learner of an organisation (and the units under it) as Excel and PDF "
        "archives in one zip with a SHA-256 manifest. Without --organisation: every learner of the platform."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("out", type=Path, help="the zip file to write")
        parser.add_argument("--organisation", type=int, help="organisation id")

    def handle(self, *args, **options) -> None:
        learners = User.objects.filter(memberships__role="learner").distinct().order_by("pk")
        if options["organisation"]:
            org = Organisation.objects.filter(pk=options["organisation"]).first()
            if org is None:
                raise CommandError(f"没有编号为 {options['organisation']} 的单位。")
            learners = learners.filter(memberships__organisation__path__startswith=org.path)
        data = handover_zip(list(learners))
        options["out"].write_bytes(data)
        self.stdout.write(self.style.SUCCESS(f"{learners.count()} learners exported to {options['out']}"))
