"""Model fields that keep personal data encrypted in the database (ACC-08)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from safetrain.core.crypto import cipher_of, decrypt_str, encrypt_str


class EncryptedTextField(models.TextField):
    """A text value stored as a token of the data cipher (safetrain.core.crypto). It cannot be filtered on: use a
    blind index column for lookups."""

    description = "Text encrypted at rest"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_str(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt_str(value)

    def get_lookup(self, lookup_name: str):  # type: ignore[override]
        # Tokens are randomised: equality on the column can never match, so only isnull is offered.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (a dict or a list) stored as a token of its JSON text; None is stored as NULL."""

    description = "JSON encrypted at rest"

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt_str(json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt_str(value))

    def to_python(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def value_to_string(self, obj: Any) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False, cls=DjangoJSONEncoder)


def _rewrite_columns(
    connection: Any,
    table: str,
    columns: list[str],
    rewrite: Callable[[str, str], Any | None],
    also: Callable[[dict[str, str]], dict[str, Any]] | None = None,
    batch: int = 1000,
) -> int:
    """Walk the table's rows in batches and set each column to `rewrite(column, value)` where that is not None."""
    qn = connection.ops.quote_name
    filled = " OR ".join(f"{qn(c)} IS NOT NULL" for c in columns)
    changed, last = 0, 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, {', '.join(qn(c) for c in columns)} FROM {qn(table)} "
                f"WHERE id > %s AND ({filled}) ORDER BY id LIMIT %s",
                [last, batch],
            )
            rows = cursor.fetchall()
            for pk, *values in rows:
                found = {c: v for c, v in zip(columns, values, strict=True) if v not in (None, "")}
                sets = {c: new for c, v in found.items() if (new := rewrite(c, v)) is not None}
                if not sets:
                    continue
                if also:
                    sets |= also({c: v for c, v in found.items() if c in sets})
                cursor.execute(
                    f"UPDATE {qn(table)} SET {', '.join(f'{qn(c)} = %s' for c in sets)} WHERE id = %s",
                    [*sets.values(), pk],
                )
                changed += 1
            if len(rows) < batch:
                return changed
            last = rows[-1][0]


def encrypt_plain_columns(
    connection: Any,
    table: str,
    columns: Iterable[str],
    *,
    also: Callable[[dict[str, str]], dict[str, Any]] | None = None,
) -> int:
    """Encrypt, in place, the values of `columns` that are still plain text (for data migrations: a column that
    becomes encrypted keeps its old values until they are rewritten). Tokens already there are left as they are,
    so it is safe to run again. `also(plain values)` names more columns to set on the same row (a masked copy,
    say). Returns how many rows changed."""
    return _rewrite_columns(
        connection,
        table,
        list(columns),
        lambda _column, value: encrypt_str(value) if cipher_of(value) is None else None,
        also,
    )


def decrypt_token_columns(connection: Any, table: str, columns: Iterable[str]) -> int:
    """The reverse of `encrypt_plain_columns` (for reversing a data migration)."""
    return _rewrite_columns(
        connection,
        table,
        list(columns),
        lambda _column, value: decrypt_str(value) if cipher_of(value) is not None else None,
    )
