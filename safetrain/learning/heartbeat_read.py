"""The heartbeat's one read: the study session with everything crediting needs, locked, in one query (LRN-01).

The session row and its progress row are locked (FOR UPDATE where the database has it); the same row brings the
enrolment, the sign-in that opened the page (open, last seen, account active), the learner's credit today and the
catalogue version. Read by the page's heartbeat key, the query also compares the digest of the credential the beat
carries (bearer token or session cookie) with the digest that sign-in is stored under: a key found with another
sign-in's credential, or none, reads nothing. The programme with its region profile and the lesson with its video and chapter come from this process's
memory (`_Catalogue`), loaded once and loaded again whenever the catalogue version the beat read is not the one
they were loaded at: the database gives the version a new number whenever one of those rows changes
(catalog.versioning), so a beat never uses a catalogue row older than the version it read, and PostgreSQL joins
three tables a beat instead of seven. The SQL is built once per database from the models' own metadata (tables,
columns, each field's conversions), so it follows the schema without the ORM compiling the query on every beat;
the rows come back as ordinary model instances with their relations in place.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, models
from django.db.models import signals
from django.db.models.base import ModelState

from safetrain.accounts.models import AuthSession, User
from safetrain.catalog.models import CatalogueVersion, Lesson, Programme
from safetrain.core import dbbatch, pgpipe
from safetrain.learning.models import DailyCredit, Enrolment, LessonProgress, StudySession


@dataclass
class Signin:
    """The sign-in that opened the page, as the fast path needs it (`password_changed_at` as on the user, so
    accounts.services.password_expired applies to it)."""

    kind: str  # api (a bearer token) or web (a browser session cookie)
    ended_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    face_verified_at: dt.datetime | None
    user_active: bool
    must_change_password: bool
    password_changed_at: dt.datetime | None


# (alias, model, fields or None for all concrete fields)
_PARTS: tuple[tuple[str, type[models.Model], tuple[str, ...] | None], ...] = (
    ("s", StudySession, None),
    # Of the others only what crediting and the fast path read (any other field still loads when read).
    (
        "p",
        LessonProgress,
        tuple(f.name for f in LessonProgress._meta.concrete_fields if f.name != "updated_at"),
    ),
    ("e", Enrolment, ("id", "learner", "programme", "status", "deadline")),
)
_SIGNIN = (
    ("a", AuthSession, ("kind", "ended_at", "last_seen_at", "face_verified_at")),
    ("u", User, ("is_active", "must_change_password", "password_changed_at")),
)


def _fields(model: type[models.Model], names: tuple[str, ...] | None) -> list[models.Field]:
    # In the model's own field order: Model.from_db places a partial row's values by that order.
    return [field for field in model._meta.concrete_fields if names is None or field.name in names]


class _Query:
    def __init__(self, using: str, by_key: bool) -> None:
        connection = connections[using]
        q = connection.ops.quote_name
        self.using = using
        self.fields: list[tuple[str, type[models.Model], list[models.Field]]] = []
        columns: list[str] = []
        # (column index, its column expression, the conversions of its value) for the columns that have any
        self.converters: list[tuple[int, Any, list[Any]]] = []
        for alias, model, names in (*_PARTS, *_SIGNIN):
            fields = _fields(model, names)
            self.fields.append((alias, model, fields))
            for field in fields:
                columns.append(f"{alias}.{q(field.column)}")
                expression = field.get_col(alias)
                converters = [
                    *connection.ops.get_db_converters(expression),
                    *map(_faster, field.get_db_converters(connection)),
                ]
                if converters:
                    self.converters.append((len(columns) - 1, expression, converters))

        def table(model: type[models.Model]) -> str:
            return q(model._meta.db_table)

        def col(model: type[models.Model], name: str) -> str:
            return q(model._meta.get_field(name).column)

        S, P, E = StudySession, LessonProgress, Enrolment
        version = (
            f"(SELECT c.{col(CatalogueVersion, 'number')} FROM {table(CatalogueVersion)} c "
            f"WHERE c.{col(CatalogueVersion, 'id')} = 1)"
        )
        credit = (
            f"COALESCE((SELECT SUM(d.{col(DailyCredit, 'seconds')}) FROM {table(DailyCredit)} d "
            f"WHERE d.{col(DailyCredit, 'learner')} = s.{col(S, 'learner')} AND d.{col(DailyCredit, 'day')} = %s), 0)"
        )
        # By key: the page's key and the sign-in's credential, both by digest (the sign-in's is unique).
        where = (
            f"s.{col(S, 'id')} = %s AND s.{col(S, 'key_digest')} = %s AND s.{col(S, 'key_digest')} <> '' "
            f"AND a.{col(AuthSession, 'key_digest')} = %s"
            if by_key
            else f"s.{col(S, 'id')} = %s AND s.{col(S, 'learner')} = %s"
        )
        sign_in_join = "JOIN" if by_key else "LEFT JOIN"
        self.sql = (
            f"SELECT {', '.join(columns)}, {version}, {credit} "
            f"FROM {table(S)} s "
            f"JOIN {table(P)} p ON p.{col(P, 'id')} = s.{col(S, 'progress')} "
            f"JOIN {table(E)} e ON e.{col(E, 'id')} = s.{col(S, 'enrolment')} "
            f"{sign_in_join} {table(AuthSession)} a ON a.{col(AuthSession, 'id')} = s.{col(S, 'auth_session')} "
            f"{sign_in_join} {table(User)} u ON u.{col(User, 'id')} = a.{col(AuthSession, 'user')} "
            f"AND u.{col(User, 'id')} = s.{col(S, 'learner')} "
            f"WHERE {where}"
        )
        if connection.features.has_select_for_update_of:
            self.sql += " FOR UPDATE OF s, p"
        elif connection.features.has_select_for_update:
            self.sql += " FOR UPDATE"
        self.name = f"safetrain_heartbeat_read_{'key' if by_key else 'learner'}"
        self.attnames = {alias: [f.attname for f in fields] for alias, _model, fields in self.fields}
        # Models whose instances nothing watches being created: built without Model.__init__ (below).
        self.plain = {
            model
            for _alias, model, _fields in self.fields
            if not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))
            and model.from_db.__func__ is models.Model.from_db.__func__
        }
        self.numbered = pgpipe.numbered(self.sql)

    def run(
        self, connection: Any, today: dt.date, session_id: int, *second: Any, begin: bool = False
    ) -> tuple[StudySession, Signin] | None:
        params = [today, session_id, *second]
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(self.sql, params)
                row = cursor.fetchone()
        else:
            # Planning this five-table join costs PostgreSQL more than running it:
            # it is prepared once per connection and executed by name (core.pgpipe), unless that is switched off.
            read = pgpipe.Statement(self.numbered, params, self.name)
            # Outside Django's transaction handling (learning.fastpath) BEGIN goes in the same message.
            statements = [pgpipe.Statement("BEGIN", row=False), read] if begin else [read]
            dbbatch.ensure_open(connection)
            with connection.wrap_database_errors:
                (row,) = pgpipe.run(
                    connection.connection, statements, prepare=settings.DB_PREPARED_STATEMENTS
                )
        if row is None:
            return None
        values = list(row)
        for index, expression, converters in self.converters:
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        objects: dict[str, Any] = {}
        offset = 0
        for alias, model, fields in self.fields[: len(_PARTS)]:
            chunk = values[offset : offset + len(fields)]
            offset += len(fields)
            if model in self.plain:
                objects[alias] = _instance(model, self.using, self.attnames[alias], chunk)
            else:
                objects[alias] = model.from_db(self.using, self.attnames[alias], chunk)
        signin_values = {}
        for _alias, _model, fields in self.fields[len(_PARTS) :]:
            for field in fields:
                signin_values[field.name] = values[offset]
                offset += 1
        v = signin_values
        s, p, e = (objects[a] for a, _m, _f in _PARTS)
        version = values[-2]
        # The related objects in place, as select_related leaves them (the ids are already equal).
        for field, instance, related in (
            (_PROGRAMME, e, _catalogue.get(connection, version, Programme, e.programme_id, ("profile",))),
            (_PROGRESS, s, p),
            (_ENROLMENT, s, e),
            (_LESSON, s, _catalogue.get(connection, version, Lesson, s.lesson_id, ("video", "chapter"))),
        ):
            field.set_cached_value(instance, related)
        s.today_credit = float(values[-1] or 0)
        signin = Signin(
            v["kind"],
            v["ended_at"],
            v["last_seen_at"],
            v["face_verified_at"],
            bool(v["is_active"]),
            bool(v["must_change_password"]),
            v["password_changed_at"],
        )
        return s, signin


# 19 digits in a row: an integer that orjson may not load as an int (it loads one beyond 64 bits as a float).
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _faster(converter: Any) -> Any:
    """A field's conversion of a loaded value, or a quicker one that gives the same values: a JSON field with
    Django's own decoder is parsed by orjson, and by Django's conversion whenever orjson would not read the text
    exactly as json.loads does: what it refuses (NaN, a number beyond a float's range, a lone surrogate) and any
    number of 19 digits or more (an integer beyond 64 bits, which orjson makes a float)."""
    field = getattr(converter, "__self__", None)
    if (
        getattr(converter, "__func__", None) is models.JSONField.from_db_value
        and isinstance(field, models.JSONField)
        and field.decoder is None
    ):
        return _json_loader(converter)
    return converter


def _json_loader(original: Any) -> Any:
    def load(value: Any, expression: Any, connection: Any) -> Any:
        if type(value) is str and _LONG_NUMBER.search(value) is None:
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return original(value, expression, connection)

    return load


def _instance(model: type[models.Model], using: str, attnames: list[str], values: list[Any]) -> models.Model:
    """What Model.from_db returns for these values, without running __init__ (its per-field loop and the pre_init
    and post_init signals, which nothing listens to for these models): the values go straight into the instance,
    as __init__ leaves them for plain fields; the fields left out load when read, as deferred fields do."""
    instance = model.__new__(model)
    state = instance._state = ModelState()
    state.adding = False
    state.db = using
    instance.__dict__.update(zip(attnames, values, strict=True))
    return instance


class _Catalogue:
    """Programmes (with their region profile) and lessons (with their video and chapter) as heartbeats read them, held in this
    process under the catalogue version they were loaded at and shared by its threads (nothing a beat does changes
    them). A beat whose version is not the held one loads the row again, on its own connection, in its own
    transaction; without a version row (a flushed test database) nothing is held."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, type[models.Model], int], tuple[int, models.Model]] = {}

    def get(
        self,
        connection: Any,
        version: int | None,
        model: type[models.Model],
        pk: int,
        related: tuple[str, ...],
    ):
        key = (connection.alias, model, pk)
        held = self.rows.get(key)
        if held is not None and version is not None and held[0] == version:
            return held[1]
        # (loaded after the version was read: at least as new as that version)
        instance = model._base_manager.db_manager(connection.alias).select_related(*related).get(pk=pk)
        if version is not None:
            self.rows[key] = (version, instance)
        return instance

    def clear(self) -> None:
        self.rows.clear()


_catalogue = _Catalogue()
_PROGRAMME = Enrolment._meta.get_field("programme")
_PROGRESS = StudySession._meta.get_field("progress")
_ENROLMENT = StudySession._meta.get_field("enrolment")
_LESSON = StudySession._meta.get_field("lesson")

_queries: dict[tuple[str, str, bool], _Query] = {}


def _query(connection: Any, by_key: bool) -> _Query:
    using = connection.alias
    key = (using, connection.vendor, by_key)
    query = _queries.get(key)
    if query is None:
        query = _queries[key] = _Query(using, by_key)
    return query


def locked_session(
    *,
    session_id: int,
    today: dt.date,
    learner_id: int | None = None,
    key_digest: str | None = None,
    credential_digest: str = "",
    begin: bool = False,
    using: str = "default",
    connection: Any = None,
) -> tuple[StudySession, Signin] | None:
    """The session (by its learner, or by the page's heartbeat key together with the digest of the credential of
    the sign-in that opened the page) locked with its progress row, or None.

    begin=True (PostgreSQL in autocommit mode only) opens the transaction in the same message. `connection`: the
    connection of `using` when the caller has it at hand."""
    if connection is None:
        connection = connections[using]
    if key_digest is not None:
        return _query(connection, True).run(
            connection, today, session_id, key_digest, credential_digest, begin=begin
        )
    return _query(connection, False).run(connection, today, session_id, learner_id)
