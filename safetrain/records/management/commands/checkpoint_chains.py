from django.core.management.base import BaseCommand, CommandError

from safetrain.records.checkpoints import public_key_b64
from safetrain.records.services import checkpoints_write_all


class Command(BaseCommand):
    help = (
        "Sign the head of every hash chain into a checkpoint in storage (audit-checkpoints/), after checking the "
        "rows added since the previous one (OPS-06); Celery runs it every AUDIT_CHECKPOINT_SECONDS. "
        "--public-key prints the public half of AUDIT_CHECKPOINT_KEY (keep it: after a key change it goes into "
        "AUDIT_CHECKPOINT_PUBLIC_KEYS)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--public-key", action="store_true", help="print the checkpoint key's public half"
        )

    def handle(self, *args, **options) -> None:
        if options["public_key"]:
            self.stdout.write(public_key_b64())
            return
        run = checkpoints_write_all()
        for chain, name in run.written.items():
            self.stdout.write(f"{chain}: {name}")
        if run.failures:
            for failure in run.failures:
                self.stderr.write(self.style.ERROR(failure))
            raise CommandError(f"{len(run.failures)} chain(s) not checkpointed")
        self.stdout.write(self.style.SUCCESS("checkpoints written"))
