"""Model fields that keep personal data encrypted in the database (ACC-08)."""

from __future__ import annotations

from typing import Any

from django.db import models

from safetrain.core.crypto import decrypt_str, encrypt_str


class EncryptedTextField(models.TextField):
    """A text value stored as a Fernet token. It cannot be filtered on: use a blind index column for lookups."""

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
        # Fernet tokens are randomised: equality on the column can never match, so only isnull is offered.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)
