from django.core.management.base import BaseCommand
from django.db import transaction

from safetrain.catalog.reference import load_reference_data


class Command(BaseCommand):
    help = "Load or refresh the qualification catalogue, job types, job-code mappings and region profiles."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            counts = load_reference_data()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
