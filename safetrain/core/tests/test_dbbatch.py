"""core.dbbatch: the hot path's writes send each value exactly as the field's own conversion would."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from django.db import connection

from safetrain.core.dbbatch import WriteBatch
from safetrain.learning.models import LessonProgress, StudyRecord, StudyRecordKind, StudySession

AT = dt.datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=dt.UTC)


def _comparable(value):
    return ("json", value.obj) if hasattr(value, "obj") else value  # psycopg's Jsonb wraps the value


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
    assert [_comparable(v) for v in sent] == [_comparable(field.get_db_prep_save(value, connection))]


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
