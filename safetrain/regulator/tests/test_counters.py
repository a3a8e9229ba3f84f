"""REG-01: the pre-aggregated statistics (the cube behind the dashboard) follow every change to the records they
count, stay equal to a rebuild from the records, and `rebuild_statistics --check` finds and repairs a wrong cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from conftest import make_user, new_id_number
from safetrain.accounts.models import Membership
from safetrain.accounts.services import membership_revoke
from safetrain.assessment.models import ExamAttempt, PaperRule
from safetrain.catalog.tests.factories import published_course, published_programme
from safetrain.certification.models import Certificate
from safetrain.certification.services import revoke_for_enrolment
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.learning.services import enrolment_create
from safetrain.regulator import counters, statistics
from safetrain.regulator.models import StatCount, StatMetric, StatRollup
from safetrain.regulator.statistics import Filters


@pytest.fixture
def programme(db):
    from safetrain.learning.tests.conftest import video_of

    return published_programme("cube-p", [published_course("CUBE-C", "统计课程", video=video_of(60))])


def board(viewer, **filters):
    return statistics.dashboard(viewer, Filters(**filters))


def figures(viewer, **filters):
    b = board(viewer, **filters)
    return b.registered, b.enrolled, b.exams, b.exams_passed, b.completed, b.revoked


def exam(enrolment, *, passed: bool, when: dt.datetime) -> ExamAttempt:
    rule = PaperRule.objects.get_or_create(
        programme=enrolment.programme,
        name="卷",
        defaults={"duration_minutes": 60, "pass_mark": 80, "attempts": 3},
    )[0]
    return ExamAttempt.objects.create(
        enrolment=enrolment,
        rule=rule,
        number=ExamAttempt.objects.filter(enrolment=enrolment).count() + 1,
        started_at=when,
        deadline=when,
        submitted_at=when,
        score=Decimal(90 if passed else 40),
        total=Decimal(100),
        passed=passed,
    )


def certificate(enrolment, number: str, issued: dt.date) -> Certificate:
    return Certificate.objects.create(
        number=number,
        kind="certificate",
        enrolment=enrolment,
        learner=enrolment.learner,
        programme=enrolment.programme,
        holder_name="学员",
        holder_id_masked="x",
        programme_name=enrolment.programme.name,
        category="c",
        class_hours=Decimal(1),
        issuer="安训",
        issued_on=issued,
    )


def test_reg_01_the_cube_follows_every_change_and_equals_a_rebuild(
    world, programme, django_capture_on_commit_callbacks
):
    commit = lambda: django_capture_on_commit_callbacks(execute=True)  # noqa: E731
    nanshan, futian = world.regulator_nanshan, world.regulator_futian
    counters.flush()  # the world's memberships, touched inside the test transaction
    assert figures(nanshan) == (2, 0, 0, 0, 0, 0)  # 南山学员 and the team's learner
    assert counters.differences() == []

    with commit():
        e1 = enrolment_create(
            learner=world.learner_nanshan,
            programme=programme,
            organisation=world.ent_nanshan,
            opened_on=dt.date(2026, 10, 20),
        )
    assert figures(nanshan) == (2, 1, 0, 0, 0, 0)
    assert board(nanshan).by_month == [("2026-10", 1)]

    with commit():
        exam(e1, passed=False, when=dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC))
        exam(e1, passed=True, when=dt.datetime(2026, 11, 3, 1, 0, tzinfo=dt.UTC))
        certificate(e1, "ST26CUBE0001", dt.date(2026, 11, 3))
    assert figures(nanshan) == (2, 1, 2, 1, 1, 0)
    assert board(nanshan, start=dt.date(2026, 11, 1)).enrolled == 0  # opened in October
    assert board(nanshan, start=dt.date(2026, 11, 1)).exams == 2

    with commit():
        assert revoke_for_enrolment(enrolment=e1, reason="替学") == 1
    assert figures(nanshan) == (2, 1, 2, 1, 0, 1)

    # An enrolment without a unit counts at the learner's own unit.
    with commit():
        Enrolment.objects.create(
            learner=world.learner_futian,
            programme=programme,
            organisation=None,
            opened_on=dt.date(2026, 11, 5),
        )
    assert figures(futian) == (1, 1, 0, 0, 0, 0)

    # The learner's birth date and sex are corrected (a new ID number): the age bands follow.
    old_band = statistics.age_band_of(world.learner_nanshan.birth_date.year, timezone.localdate())
    assert dict(board(nanshan).by_age)[old_band] == 2
    with commit():
        learner = world.learner_nanshan
        learner.id_number = new_id_number("440305", dt.date(1958, 5, 1))
        learner.birth_date = dt.date(1958, 5, 1)
        learner.save()
    assert dict(board(nanshan).by_age)["60plus"] == 1
    assert board(nanshan, age_band="60plus").enrolled == 1
    assert board(nanshan, age_band=old_band).enrolled == 0

    # The enrolment moves to another unit: its exams and certificates go with it.
    with commit():
        e1.organisation = world.ent_futian
        e1.save()
    assert figures(nanshan) == (2, 0, 0, 0, 0, 0)
    assert figures(futian) == (1, 2, 2, 1, 0, 1)

    # Void enrolments do not count, also when voided with update() (the refund path touches by hand).
    with commit():
        Enrolment.objects.filter(pk=e1.pk).update(status=EnrolmentStatus.VOID)
        counters.touch_enrolment(e1)
    assert board(futian).enrolled == 1

    # A learner leaves the team; a paper is deleted.
    with commit():
        membership_revoke(membership=Membership.objects.get(user=world.learner_team, organisation=world.team))
        ExamAttempt.objects.filter(enrolment=e1, passed=False).delete()
    assert board(nanshan).registered == 1
    assert board(futian).exams == 1
    assert counters.differences() == []

    # A rebuild from the records gives the same dashboard.
    before = [board(r) for r in (nanshan, futian, world.regulator_city, world.operator)]
    counters.rebuild()
    assert [board(r) for r in (nanshan, futian, world.regulator_city, world.operator)] == before


def enrol_then_fail(world, programme) -> None:
    with transaction.atomic():
        enrolment_create(learner=world.learner_nanshan, programme=programme, organisation=world.ent_nanshan)
        raise RuntimeError("the request failed")


def test_reg_01_a_rolled_back_change_counts_nothing(world, programme, django_capture_on_commit_callbacks):
    counters.flush()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError, match="failed"):
            enrol_then_fail(world, programme)
        make_user(world.ent_nanshan, name="新学员")  # a later commit flushes what is pending
    assert figures(world.regulator_nanshan)[:2] == (3, 0)
    assert counters.differences() == []


def test_reg_01_rebuild_statistics_check_finds_and_repairs_a_wrong_cell(
    world, django_capture_on_commit_callbacks
):
    counters.flush()
    call_command("rebuild_statistics", "--check")
    cell = StatCount.objects.filter(metric=StatMetric.LEARNERS, unit=world.ent_nanshan).first()
    cell.n += 5
    cell.save()
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_statistics", "--check")
    call_command("rebuild_statistics")
    call_command("rebuild_statistics", "--check")
    assert StatRollup.objects.exists()
