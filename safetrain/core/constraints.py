"""A foreign key over several columns, which Django's ForeignKey cannot declare.

`CompositeForeignKey(fields=[...], to="app.Model", to_fields=[...], name=...)` in a model's `Meta.constraints`
makes the database check that the row's columns, together, name one row of the other table (whose columns must
be unique together). As with every foreign key, a row with any of the columns NULL is not checked (MATCH SIMPLE).
The check is deferred to the end of the transaction, as Django's own foreign keys are.

Why: one check on a row the transaction has already locked replaces several single-column checks, each of them a
query and a row lock at commit (learning.StudyRecord, issue 4), and it says more: the columns belong together.
Migrations create it on PostgreSQL (`ALTER TABLE … ADD CONSTRAINT`) and inside SQLite's `CREATE TABLE`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models.constraints import BaseConstraint
from django.utils.translation import gettext_lazy as _


class CompositeForeignKey(BaseConstraint):
    violation_error_message = _("The rows this row refers to do not exist together (%(name)s).")

    def __init__(
        self,
        *,
        fields: list[str] | tuple[str, ...],
        to: str,
        to_fields: list[str] | tuple[str, ...],
        name: str,
        violation_error_code: str | None = None,
        violation_error_message: Any = None,
    ) -> None:
        if len(fields) < 2 or len(fields) != len(to_fields):
            raise ValueError("CompositeForeignKey needs two or more fields and as many to_fields.")
        self.fields = tuple(fields)
        self.to = to
        self.to_fields = tuple(to_fields)
        super().__init__(
            name=name,
            violation_error_code=violation_error_code,
            violation_error_message=violation_error_message,
        )

    def _target(self, model: type[models.Model] | None = None) -> type[models.Model]:
        # In a migration, the model and the table it refers to are the migration's historical ones; SQLite's
        # table rebuild makes the model in a registry of its own, where only the current models can be found.
        if model is not None:
            try:
                return model._meta.apps.get_model(self.to)
            except LookupError:
                pass
        return apps.get_model(self.to)

    @staticmethod
    def _columns(model: type[models.Model], names: tuple[str, ...], quote: Any) -> str:
        return ", ".join(quote(model._meta.get_field(name).column) for name in names)

    def constraint_sql(self, model: type[models.Model] | None, schema_editor: Any) -> str:
        quote = schema_editor.quote_name
        target = self._target(model)
        return (
            f"CONSTRAINT {quote(self.name)} FOREIGN KEY ({self._columns(model, self.fields, quote)}) "
            f"REFERENCES {quote(target._meta.db_table)} ({self._columns(target, self.to_fields, quote)}) "
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def create_sql(self, model: type[models.Model] | None, schema_editor: Any) -> str:
        return f"ALTER TABLE {schema_editor.quote_name(model._meta.db_table)} ADD {self.constraint_sql(model, schema_editor)}"

    def remove_sql(self, model: type[models.Model] | None, schema_editor: Any) -> str:
        quote = schema_editor.quote_name
        return f"ALTER TABLE {quote(model._meta.db_table)} DROP CONSTRAINT {quote(self.name)}"

    def validate(
        self,
        model: type[models.Model],
        instance: models.Model,
        exclude: Any = None,
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        """As the database will check it (for full_clean); a generated column is read as the database gives it."""
        if exclude and any(name in exclude for name in self.fields):
            return
        values = []
        for name in self.fields:
            field = model._meta.get_field(name)
            if getattr(field, "generated", False):
                return  # not known before the row is saved: the database checks it then
            values.append(getattr(instance, field.attname))
        if any(value is None for value in values):
            return
        target = self._target()
        lookup = {
            target._meta.get_field(name).attname: value
            for name, value in zip(self.to_fields, values, strict=True)
        }
        if not target._default_manager.using(using).filter(**lookup).exists():
            raise ValidationError(self.get_violation_error_message(), code=self.violation_error_code)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CompositeForeignKey):
            return (
                self.name == other.name
                and self.fields == other.fields
                and self.to.lower() == other.to.lower()
                and self.to_fields == other.to_fields
                and self.violation_error_code == other.violation_error_code
                and self.violation_error_message == other.violation_error_message
            )
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}: fields={self.fields!r} to={self.to!r} to_fields={self.to_fields!r} name={self.name!r}>"

    def deconstruct(self) -> tuple[str, tuple, dict]:
        path, args, kwargs = super().deconstruct()
        kwargs.update(fields=list(self.fields), to=self.to, to_fields=list(self.to_fields))
        return path, args, kwargs
