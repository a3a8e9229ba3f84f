"""REC-02, LRN-01: the database itself refuses a study record whose learner, enrolment, lesson and session do not
belong together, and checks each record with one composite key (issue 4: one check of the session row the
heartbeat has already locked instead of four single-column checks at commit).

The keys are deferred to the end of the transaction, as Django's own foreign keys are; the test's transaction
never commits, so each case asks the database to check them now (`connection.check_constraints`)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from safetrain.catalog.models import Lesson
from safetrain.learning.models import LessonProgress, StudyRecord, StudyRecordKind, StudySession
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import Player


def _record(**fields) -> StudyRecord:
    fields.setdefault("at", timezone.now())
    fields.setdefault("kind", StudyRecordKind.HEARTBEAT)
    return StudyRecord(**fields)


def _written(record: StudyRecord) -> None:
    """The record is written and the database's deferred checks run now; refused, nothing stays."""
    with transaction.atomic():
        record.save()
        connection.check_constraints(table_names=["learning_studyrecord"])


@pytest.fixture
def session(lesson, world, api_client, clock) -> StudySession:
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="api")
    player.beat()
    return StudySession.objects.get(pk=player.session["id"])


def test_a_session_record_names_the_sessions_own_learner_enrolment_and_lesson(session, world):
    other_lesson = Lesson.objects.exclude(pk=session.lesson_id).get(chapter__course__code="CRED")
    other = enrolment_create(learner=world.learner_futian, programme=session.enrolment.programme)
    before = StudyRecord.objects.count()

    own = {
        "learner_id": session.learner_id,
        "enrolment_id": session.enrolment_id,
        "lesson_id": session.lesson_id,
    }
    for wrong in (
        {"learner_id": world.learner_futian.pk},  # another learner's name on this session's record
        {"enrolment_id": other.pk},  # another enrolment
        {"lesson_id": other_lesson.pk},  # another lesson of the same course
        # a learner and enrolment that belong together, but not to this session
        {"learner_id": world.learner_futian.pk, "enrolment_id": other.pk},
    ):
        with pytest.raises(IntegrityError):
            _written(_record(session=session, **{**own, **wrong}))
    with pytest.raises(IntegrityError):
        _written(_record(session_id=session.pk + 1000, **own))  # no such session
    assert StudyRecord.objects.count() == before

    _written(_record(session=session, **own))
    assert StudyRecord.objects.count() == before + 1


def test_a_record_without_a_session_names_a_progress_row_of_its_enrolment_and_the_enrolments_learner(
    session, world
):
    """A cancellation (ANTI-05) has no session: it names the lesson-progress row whose credit it cancels."""
    progress = LessonProgress.objects.get(pk=session.progress_id)
    unstudied = Lesson.objects.exclude(pk=session.lesson_id).get(chapter__course__code="CRED")
    assert not LessonProgress.objects.filter(enrolment_id=progress.enrolment_id, lesson=unstudied).exists()
    cancellation = {
        "kind": StudyRecordKind.CANCELLED,
        "learner_id": session.learner_id,
        "enrolment_id": progress.enrolment_id,
        "lesson_id": progress.lesson_id,
        "credited_seconds": -15,
        "accepted": False,
    }
    before = StudyRecord.objects.count()
    for wrong in (
        {"learner_id": world.learner_futian.pk},  # the enrolment is not this learner's
        {"lesson_id": unstudied.pk},  # the enrolment has no progress on that lesson
        {"enrolment_id": progress.enrolment_id + 1000},  # no such enrolment
    ):
        with pytest.raises(IntegrityError):
            _written(_record(**{**cancellation, **wrong}))
    assert StudyRecord.objects.count() == before

    _written(_record(**cancellation))
    saved = StudyRecord.objects.get(kind=StudyRecordKind.CANCELLED)
    assert saved.sessionless_enrolment == progress.enrolment_id  # the key column, as the database computed it
    of_the_session = StudyRecord.objects.filter(session=session)
    assert of_the_session.exists()
    assert all(record.sessionless_enrolment is None for record in of_the_session)


def test_full_clean_checks_the_session_key_before_the_database_does(session, world):
    own = {
        "learner_id": session.learner_id,
        "enrolment_id": session.enrolment_id,
        "lesson_id": session.lesson_id,
    }
    _record(session=session, **own).validate_constraints()
    with pytest.raises(ValidationError) as refused:
        _record(session=session, **{**own, "learner_id": world.learner_futian.pk}).validate_constraints()
    assert "study_record_session_refs" in str(refused.value)


def _foreign_keys(table: str) -> dict[str, tuple[list[str], str, list[str]]]:
    """{name or number: (columns, referenced table, referenced columns)} as the database has them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.conname, array_agg(a.attname ORDER BY k.n), c.confrelid::regclass::text, "
                "array_agg(fa.attname ORDER BY k.n) FROM pg_constraint c "
                "CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, fcol, n) "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col "
                "JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.fcol "
                "WHERE c.conrelid = %s::regclass AND c.contype = 'f' GROUP BY c.conname, c.confrelid",
                [table],
            )
            return {name: (list(cols), to, list(to_cols)) for name, cols, to, to_cols in cursor.fetchall()}
        cursor.execute(f"PRAGMA foreign_key_list({table})")
        keys: dict[str, tuple[list[str], str, list[str]]] = {}
        for number, _seq, to, column, to_column, *_rest in cursor.fetchall():
            keys.setdefault(str(number), ([], to, []))
            keys[str(number)][0].append(column)
            keys[str(number)][2].append(to_column)
        return keys


def test_a_heartbeat_record_is_checked_by_one_key_not_four(session):
    """The three keys of the table; a record of a session is checked by the first alone, the other two are keyed on
    a column that is NULL on every record of a session (and a key with a NULL column is not checked)."""
    keys = sorted(_foreign_keys("learning_studyrecord").values(), key=lambda key: key[1])
    assert keys == [
        (["sessionless_enrolment", "learner_id"], "learning_enrolment", ["id", "learner_id"]),
        (["sessionless_enrolment", "lesson_id"], "learning_lessonprogress", ["enrolment_id", "lesson_id"]),
        (
            ["session_id", "learner_id", "enrolment_id", "lesson_id"],
            "learning_studysession",
            ["id", "learner_id", "enrolment_id", "lesson_id"],
        ),
    ]


HEARTBEAT_TABLES = (
    "learning_studysession",
    "learning_lessonprogress",
    "learning_dailycredit",
    "learning_studyrecord",
)


def _indexes(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """{index name: (its columns in order, unique)} as the database has them (Django's introspection; the primary
    key counts as a unique index)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(c["columns"]), bool(c["unique"] or c["primary_key"]))
        for name, c in constraints.items()
        if c["index"] or c["primary_key"]
    }


def test_the_heartbeats_tables_have_no_index_another_one_already_covers(db):
    """Every heartbeat writes a row of each of these tables, and PostgreSQL opens and locks every index of a table
    it writes: an index whose columns lead another index's serves no look-up the other does not. (A unique index
    is a rule, needed whatever else there is.)"""
    for table in HEARTBEAT_TABLES:
        indexes = _indexes(table)
        for name, (columns, unique) in indexes.items():
            covering = [
                other
                for other, (longer, _unique) in indexes.items()
                if other not in (name, "one_active_study_session")  # partial: only the active sessions
                and longer[: len(columns)] == columns
            ]
            assert unique or not covering, (table, name, covering)


def test_a_sessions_key_check_has_no_index_by_lesson_enrolment_or_progress_to_stray_into(session):
    """The study record's key is checked by a look-up of (id, learner, enrolment, lesson) in the sessions. With
    an index on the lesson, the database could take it and scan every session of the lesson for each heartbeat
    (as it did on a table without statistics): sessions have no index that leads with those columns."""
    leading = {columns[0] for columns, _unique in _indexes("learning_studysession").values()}
    assert leading == {"id", "learner_id", "auth_session_id"}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The check as PostgreSQL's foreign-key trigger runs it: a prepared, generic plan.
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(
                "PREPARE record_key_check (bigint, bigint, bigint, bigint) AS SELECT 1 FROM ONLY "
                '"public"."learning_studysession" x WHERE "id" OPERATOR(pg_catalog.=) $1 AND "learner_id" '
                'OPERATOR(pg_catalog.=) $2 AND "enrolment_id" OPERATOR(pg_catalog.=) $3 AND "lesson_id" '
                "OPERATOR(pg_catalog.=) $4 FOR KEY SHARE OF x"
            )
            try:
                cursor.execute("EXPLAIN EXECUTE record_key_check (1, 1, 1, 1)")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            finally:
                cursor.execute("DEALLOCATE record_key_check")
        assert "learning_studysession_pkey" in plan or "study_session_record_key" in plan, plan
