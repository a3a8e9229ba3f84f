"""Re-encrypt every encrypted column with the first key of FIELD_ENCRYPTION_KEYS (ACC-08 key rotation).

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys. Runs in batches; safe to run again.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from safetrain.core.crypto import rotate_token
from safetrain.core.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the current first key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options) -> None:
        size = options["batch_size"]
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            table = model._meta.db_table
            columns = [f.column for f in fields]
            pk = model._meta.pk.column
            rotated = 0
            last = None
            qn = connection.ops.quote_name
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    where = f"WHERE {qn(pk)} > %s " if last is not None else ""
                    cursor.execute(
                        f"SELECT {qn(pk)}, {', '.join(qn(c) for c in columns)} FROM {qn(table)} "
                        f"{where}ORDER BY {qn(pk)} LIMIT %s",
                        [last, size] if last is not None else [size],
                    )
                    rows = cursor.fetchall()
                    for row in rows:
                        values = [rotate_token(v) if v else v for v in row[1:]]
                        sets = ", ".join(f"{qn(c)} = %s" for c in columns)
                        cursor.execute(
                            f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk)} = %s", [*values, row[0]]
                        )
                    rotated += len(rows)
                if len(rows) < size:
                    break
                last = rows[-1][0]
            self.stdout.write(f"{model._meta.label}: {rotated} rows re-encrypted ({', '.join(columns)})")
