"""`manage.py supervision_key`: the public half of this platform's exchange key, to register with the provincial
supervision platform (INT-01): algorithm, key id and the key (PEM for Ed25519, hex x||y for SM2)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from safetrain.integrations.supervision import signer


class Command(BaseCommand):
    help = "Print the public key the provincial supervision platform must register for this platform."

    def handle(self, *args, **options) -> None:
        key = signer()
        self.stdout.write(f"algorithm: {key.algorithm}\nkey id: {key.key_id}\n{key.public_key}")
