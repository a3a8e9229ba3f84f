"""The heartbeat's programme, region profile, lesson and video come from memory under the catalogue version the
database keeps (learning.heartbeat_read._Catalogue, catalog.versioning): whatever changes one of those rows, the
next beat sees it (LRN-01, LRN-04: the daily cap and the lesson's length are the catalogue's, never stale)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.models import F

from safetrain.catalog import versioning
from safetrain.catalog.models import CatalogueVersion, Chapter, Lesson, Programme, RegionProfile, Video
from safetrain.learning.heartbeat_read import _catalogue, locked_session
from safetrain.learning.models import StudySession
from safetrain.learning.tests.conftest import Player

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def session(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    return StudySession.objects.get(pk=player.session["id"])


def read(session):
    with transaction.atomic():
        found, _signin = locked_session(session_id=session.pk, today=TODAY, learner_id=session.learner_id)
    return found


def version() -> int:
    return CatalogueVersion.objects.get(pk=1).number


def test_lrn_04_a_catalogue_change_reaches_the_next_beat_however_it_is_made(session):
    first = read(session)
    profile = first.enrolment.programme.profile
    assert profile.daily_cap_class_hours == 6
    assert first.lesson.duration_seconds == 300
    # Held in memory: the next beat reads no catalogue row (the same instances come back, the lesson's chapter
    # with it: the quiz lookup reads it).
    again = read(session)
    assert again.enrolment.programme is first.enrolment.programme
    assert again.lesson is first.lesson
    assert Lesson.chapter.is_cached(again.lesson)

    # A queryset update (no model signals), raw SQL, a save: each reaches the next beat.
    RegionProfile.objects.filter(pk=profile.pk).update(daily_cap_class_hours=2)
    assert read(session).enrolment.programme.profile.daily_cap_class_hours == 2
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Video._meta.db_table} SET duration_seconds = 90 WHERE id = %s",
            [session.lesson.video_id],
        )
    assert read(session).lesson.duration_seconds == 90
    programme = Programme.objects.get(pk=first.enrolment.programme_id)
    programme.class_hour_minutes = 50
    programme.save()
    assert read(session).enrolment.programme.class_hour_minutes == 50


def test_lrn_01_transcoding_progress_alone_keeps_the_version(session):
    read(session)
    before = version()
    Video.objects.filter(pk=session.lesson.video_id).update(progress=40)
    assert version() == before
    held = read(session).lesson
    assert read(session).lesson is held


@pytest.mark.parametrize("model", [Programme, RegionProfile, Lesson, Chapter, Video])
def test_lrn_01_every_column_a_beat_may_read_changes_the_version(session, model):
    """A statement setting any column (but a video's progress) gives the version a new number: a column added to
    these tables later without its trigger fails here."""
    row = {
        Programme: session.enrolment.programme_id,
        RegionProfile: session.enrolment.programme.profile_id,
        Lesson: session.lesson_id,
        Chapter: session.lesson.chapter_id,
        Video: session.lesson.video_id,
    }[model]
    for field in model._meta.concrete_fields:
        if (model, field.name) == (Video, "progress"):
            continue
        before = version()
        model.objects.filter(pk=row).update(**{field.name: F(field.name)})
        assert version() != before, f"{model.__name__}.{field.name}"


def test_lrn_01_an_inserted_or_deleted_catalogue_row_changes_the_version(session):
    """(An id can come back after a rollback: SQLite reuses it, so an insert counts as a change too.)"""
    before = version()
    spare = Video.objects.create(title="spare", original="videos/originals/y.mp4", hls_prefix="x")
    inserted = version()
    assert inserted != before
    spare.delete()
    assert version() not in (before, inserted)


def test_lrn_01_the_first_number_is_drawn_as_every_later_one(session):
    """A freshly installed version row must not start at the number the first change would get."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SEQUENCE "{versioning.SEQUENCE}" RESTART')  # (rolled back with the test)
    CatalogueVersion.objects.all().delete()
    versioning.seed(connection)
    versioning.seed(connection)  # (a second seeding keeps the row as it is)
    first = version()
    assert version() == first
    RegionProfile.objects.filter(pk=session.enrolment.programme.profile_id).update(daily_cap_class_hours=5)
    assert version() != first


def test_lrn_04_a_change_rolled_back_is_not_mistaken_for_a_later_one(session):
    profile_id = session.enrolment.programme.profile_id
    read(session)
    seen = []

    def change_then_fail():
        with transaction.atomic():
            RegionProfile.objects.filter(pk=profile_id).update(daily_cap_class_hours=1)
            seen.append(read(session).enrolment.programme.profile.daily_cap_class_hours)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    # A beat inside the changing transaction saw the change, and it was held under that version...
    assert seen == [1]
    # ... which is gone with the rollback; another change gets a number never handed out before.
    RegionProfile.objects.filter(pk=profile_id).update(face_timeout_seconds=77)
    profile = read(session).enrolment.programme.profile
    assert (profile.daily_cap_class_hours, profile.face_timeout_seconds) == (6, 77)


def test_lrn_01_without_the_version_row_nothing_is_held(session):
    CatalogueVersion.objects.all().delete()
    _catalogue.clear()
    first = read(session)
    assert read(session).lesson is not first.lesson
    RegionProfile.objects.filter(pk=session.enrolment.programme.profile_id).update(daily_cap_class_hours=3)
    assert read(session).enrolment.programme.profile.daily_cap_class_hours == 3
