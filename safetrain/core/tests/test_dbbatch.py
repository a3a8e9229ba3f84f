"""core.dbbatch: the hot path's writes send each value exactly as the field's own conversion would."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import warnings

import pytest
from django.db import connection, models

from safetrain.core.dbbatch import WriteBatch
from safetrain.learning.models import LessonProgress, StudyRecord, StudyRecordKind, StudySession

AT = dt.datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=dt.UTC)


def _comparable(value, field=None):
    if hasattr(value, "obj"):  # psycopg's Jsonb wraps the value
        return ("json", value.obj)
    if isinstance(field, models.JSONField) and connection.vendor == "postgresql" and type(value) is str:
        # the JSON text the batch writes (that it is stored as the same jsonb: the tests below)
        return ("json", json.loads(value))
    return value


@pytest.mark.parametrize(
    ("model", "name", "value"),
    [
        (StudyRecord, "at", AT),
        (StudyRecord, "at", None),
        (StudyRecord, "session", None),
        (StudyRecord, "session", 7),
        (StudyRecord, "reasons", []),
        (StudyRecord, "reasons", ["paused"]),
        (StudyRecord, "position", 2.5),
        (StudyRecord, "position", 2),  # an int in a float field
        (StudyRecord, "accepted", True),
        (StudyRecord, "user_agent", '浏览器 "quoted"'),
        (StudyRecord, "kind", StudyRecordKind.HEARTBEAT),  # a str subclass: converted by the field
        (LessonProgress, "watched", [[0.0, 2.0]]),
        (LessonProgress, "watched", None),  # JSON null, not SQL NULL: converted by the field
        (LessonProgress, "completed_at", None),
        (StudySession, "last_accepted_at", AT.astimezone(dt.timezone(dt.timedelta(hours=8)))),
    ],
)
def test_lrn_01_each_value_goes_as_the_fields_own_conversion_sends_it(model, name, value):
    field = model._meta.get_field(name)
    sent = WriteBatch()._params([field], [value])
    assert [_comparable(v, field) for v in sent] == [_comparable(field.get_db_prep_save(value, connection))]


def test_lrn_01_a_naive_datetime_is_converted_with_the_fields_warning():
    field = StudyRecord._meta.get_field("at")
    naive = AT.replace(tzinfo=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (sent,) = WriteBatch()._params([field], [naive])
        expected = field.get_db_prep_save(naive, connection)
    assert any("naive datetime" in str(w.message) for w in caught)
    assert sent == expected
    assert sent != naive


# Values the batch writes as JSON text (orjson), and what it leaves to Django's conversion.
DEEP: list = [1]
for _level in range(40):
    DEEP = [DEEP]
PLAIN_JSON = [
    [],
    ["paused", "daily_cap"],
    [[0.0, 2.0], [30.5, 45.25]],
    [[0, 1e-07], [1e22, 1.7976931348623157e308], [5e-324, -0.0]],
    {"a": [1, True, None, '安全 "培训"\n'], "b": {"c": 0.1}},
    "a string",
    -(2**63),
    2**63 - 1,
]
NOT_PLAIN_JSON = [
    (1, 2),  # a tuple: json.dumps writes a list, orjson too, but it is left to Django
    [2**64],  # beyond 64 bits: orjson refuses it
    {1: "a"},  # a key that is not a str: json.dumps makes it "1"
    [uuid.UUID(int=1)],  # orjson would write it, json.dumps refuses it
    [dt.date(2026, 12, 4)],
    [float("nan")],
    ["\ud83d\ude00"],  # a surrogate pair as two characters: orjson refuses it, json.dumps escapes it
    ["\ud800"],  # a lone surrogate
    DEEP,  # deeper than the walk goes
]


@pytest.mark.django_db
@pytest.mark.parametrize("value", PLAIN_JSON)
def test_lrn_01_a_json_value_written_as_text_is_stored_as_djangos_conversion_stores_it(value):
    """On PostgreSQL the batch writes a JSON field's plain value as the JSON text orjson gives it: the jsonb
    PostgreSQL stores from it is the one it stores from Django's own conversion (json.dumps behind psycopg's
    Jsonb), to the text; elsewhere the value takes Django's conversion."""
    field = LessonProgress._meta.get_field("watched")
    (sent,) = WriteBatch()._params([field], [value])
    expected = field.get_db_prep_save(value, connection)
    if connection.vendor != "postgresql":
        assert sent == expected
        return
    assert type(sent) is str
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text, %s::jsonb::text, %s::jsonb = %s::jsonb", [sent, expected] * 2)
        ours, djangos, equal = cursor.fetchone()
    assert (ours, equal) == (djangos, True)


@pytest.mark.parametrize("value", NOT_PLAIN_JSON, ids=repr)
def test_lrn_01_a_json_value_orjson_might_write_otherwise_takes_djangos_conversion(value):
    field = LessonProgress._meta.get_field("watched")
    try:
        expected = _comparable(field.get_db_prep_save(value, connection))
    except TypeError:  # what json.dumps refuses (SQLite converts at once) the batch refuses alike
        with pytest.raises(TypeError):
            WriteBatch()._params([field], [value])
        return
    (sent,) = WriteBatch()._params([field], [value])
    if connection.vendor == "postgresql":
        assert type(sent) is not str  # (SQLite's own conversion is a JSON text)
    assert _comparable(sent) == expected
