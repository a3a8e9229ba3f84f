"""The heartbeat's one read: the study session with everything crediting needs, locked, in one query (LRN-01).

The session row and its progress row are locked (FOR UPDATE where the database has it); the same row brings the
enrolment, programme, region profile, lesson and video duration, the sign-in that opened the page (open, last seen,
account active) and the learner's credit today. The SQL is built once per database from the models' own metadata
(tables, columns, each field's conversions), so it follows the schema without the ORM compiling a four-join query
on every beat; the rows come back as ordinary model instances with their relations in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import signals
from django.db.models.base import ModelState

from safetrain.accounts.models import AuthSession, User
from safetrain.catalog.models import Lesson, Programme, RegionProfile, Video
from safetrain.core import pgpipe
from safetrain.learning.models import DailyCredit, Enrolment, LessonProgress, StudySession


@dataclass
class Signin:
    """The sign-in that opened the page, as the fast path needs it (`password_changed_at` as on the user, so
    accounts.services.password_expired applies to it)."""

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
    ("g", Programme, ("id", "profile", "class_hour_minutes")),
    (
        "f",
        RegionProfile,
        (
            "id",
            "daily_cap_class_hours",
            "class_hour_minutes",
            "face_timeout_seconds",
            "verification_interval_minutes",
        ),
    ),
    ("l", Lesson, ("id", "chapter", "kind", "video")),
    ("v", Video, ("id", "duration_seconds")),
)
_SIGNIN = (
    ("a", AuthSession, ("ended_at", "last_seen_at", "face_verified_at")),
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
                    *field.get_db_converters(connection),
                ]
                if converters:
                    self.converters.append((len(columns) - 1, expression, converters))

        def table(model: type[models.Model]) -> str:
            return q(model._meta.db_table)

        def col(model: type[models.Model], name: str) -> str:
            return q(model._meta.get_field(name).column)

        S, P, E, G, L = StudySession, LessonProgress, Enrolment, Programme, Lesson
        credit = (
            f"COALESCE((SELECT SUM(d.{col(DailyCredit, 'seconds')}) FROM {table(DailyCredit)} d "
            f"WHERE d.{col(DailyCredit, 'learner')} = s.{col(S, 'learner')} AND d.{col(DailyCredit, 'day')} = %s), 0)"
        )
        where = (
            f"s.{col(S, 'id')} = %s AND s.{col(S, 'key_digest')} = %s AND s.{col(S, 'key_digest')} <> ''"
            if by_key
            else f"s.{col(S, 'id')} = %s AND s.{col(S, 'learner')} = %s"
        )
        sign_in_join = "JOIN" if by_key else "LEFT JOIN"
        self.sql = (
            f"SELECT {', '.join(columns)}, {credit} "
            f"FROM {table(S)} s "
            f"JOIN {table(P)} p ON p.{col(P, 'id')} = s.{col(S, 'progress')} "
            f"JOIN {table(E)} e ON e.{col(E, 'id')} = s.{col(S, 'enrolment')} "
            f"JOIN {table(G)} g ON g.{col(G, 'id')} = e.{col(E, 'programme')} "
            f"JOIN {table(RegionProfile)} f ON f.{col(RegionProfile, 'id')} = g.{col(G, 'profile')} "
            f"JOIN {table(L)} l ON l.{col(L, 'id')} = s.{col(S, 'lesson')} "
            f"LEFT JOIN {table(Video)} v ON v.{col(Video, 'id')} = l.{col(L, 'video')} "
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
        self, connection: Any, today: dt.date, session_id: int, second: Any, begin: bool = False
    ) -> tuple[StudySession, Signin] | None:
        params = [today, session_id, second]
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(self.sql, params)
                row = cursor.fetchone()
        else:
            # Planning this nine-table join costs PostgreSQL far more than running it (about 3 ms against 0.4 ms):
            # it is prepared once per connection and executed by name (core.pgpipe), unless that is switched off.
            read = pgpipe.Statement(self.numbered, params, self.name)
            # Outside Django's transaction handling (learning.fastpath) BEGIN goes in the same message.
            statements = [pgpipe.Statement("BEGIN", row=False), read] if begin else [read]
            connection.ensure_connection()
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
            if alias == "v" and chunk[0] is None:
                objects[alias] = None
            elif model in self.plain:
                objects[alias] = _instance(model, self.using, self.attnames[alias], chunk)
            else:
                objects[alias] = model.from_db(self.using, self.attnames[alias], chunk)
        signin_values = {}
        for _alias, _model, fields in self.fields[len(_PARTS) :]:
            for field in fields:
                signin_values[field.name] = values[offset]
                offset += 1
        v = signin_values
        s, p, e, g, f, lesson, video = (objects[a] for a, _m, _f in _PARTS)
        # The related objects in place, as select_related leaves them (the ids are already equal).
        for field, instance, related in (
            (_PROFILE, g, f),
            (_PROGRAMME, e, g),
            (_VIDEO, lesson, video),
            (_PROGRESS, s, p),
            (_ENROLMENT, s, e),
            (_LESSON, s, lesson),
        ):
            field.set_cached_value(instance, related)
        s.today_credit = float(values[-1] or 0)
        signin = Signin(
            v["ended_at"],
            v["last_seen_at"],
            v["face_verified_at"],
            bool(v["is_active"]),
            bool(v["must_change_password"]),
            v["password_changed_at"],
        )
        return s, signin


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


_PROFILE = Programme._meta.get_field("profile")
_PROGRAMME = Enrolment._meta.get_field("programme")
_VIDEO = Lesson._meta.get_field("video")
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
    begin: bool = False,
    using: str = "default",
    connection: Any = None,
) -> tuple[StudySession, Signin] | None:
    """The session (by its learner, or by the page's heartbeat key) locked with its progress row, or None.

    begin=True (PostgreSQL in autocommit mode only) opens the transaction in the same message. `connection`: the
    connection of `using` when the caller has it at hand."""
    if connection is None:
        connection = connections[using]
    if key_digest is not None:
        return _query(connection, True).run(connection, today, session_id, key_digest, begin)
    return _query(connection, False).run(connection, today, session_id, learner_id)
