"""REG-01: the pre-aggregated statistics (the cube behind the dashboard) follow every change to the records they
count, stay equal to a rebuild from the records, and `rebuild_statistics --check` finds and repairs a wrong cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from conftest import make_org, make_user, new_id_number
from safetrain.accounts.models import Membership, Role
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


def certificate(enrolment, number: str, issued: dt.date, kind: str = "certificate") -> Certificate:
    return Certificate.objects.create(
        number=number,
        kind=kind,
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
    counters.drain()  # the world's memberships, touched inside the test transaction
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
    """The touched cell of a rolled-back change goes with it (the StatDirty row is in its transaction)."""
    counters.drain()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError, match="failed"):
            enrol_then_fail(world, programme)
        make_user(world.ent_nanshan, name="新学员")  # a later change, committed
    assert figures(world.regulator_nanshan)[:2] == (3, 0)
    assert counters.differences() == []


def test_reg_01_rebuild_statistics_check_finds_and_repairs_a_wrong_cell(
    world, django_capture_on_commit_callbacks
):
    counters.drain()
    call_command("rebuild_statistics", "--check")
    cell = StatCount.objects.filter(metric=StatMetric.LEARNERS, unit=world.ent_nanshan).first()
    cell.n += 5
    cell.save()
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_statistics", "--check")
    call_command("rebuild_statistics")
    call_command("rebuild_statistics", "--check")
    assert StatRollup.objects.exists()


def test_reg_01_a_busy_cell_is_recounted_once_per_drain(world, programme):
    counters.drain()
    for i in range(4):
        learner = make_user(world.ent_nanshan, name=f"忙碌{i}")
        enrolment_create(learner=learner, programme=programme, organisation=world.ent_nanshan)
    assert counters.pending() >= 8  # every change touched its cells
    assert counters.drain() == 2  # the unit's learners; its enrolments this month: each recounted once
    assert counters.pending() == 0
    assert board(world.regulator_nanshan).enrolled == 4
    assert board(world.regulator_nanshan).registered == 6
    assert counters.differences() == []


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    counters.drain()
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_reg_01_leaving_the_site_and_moving_team_follow_through_update(world, commit):
    """The roster ends memberships with update() (no signal): it touches the cells itself."""
    from safetrain.accounts.models import id_index_of
    from safetrain.enterprise import roster
    from safetrain.enterprise.models import Personnel
    from safetrain.enterprise.tests.test_roster import plain_roster
    from safetrain.orgs.models import OrganisationKind

    other = make_org("木工班组", OrganisationKind.TEAM, "440305", world.project)
    number = new_id_number()
    with commit():
        roster.roster_import(
            unit=world.project,
            data=plain_roster([["周杰", number, "", "", world.team.name]]),
            filename="a.xlsx",
            actor=world.admin_nanshan,
        )
    assert board(world.regulator_nanshan).registered == 3
    with commit():  # to another team of the project: the old team membership ends
        roster.roster_import(
            unit=world.project,
            data=plain_roster([["周杰", number, "", "", other.name]]),
            filename="b.xlsx",
            actor=world.admin_nanshan,
        )
    assert board(world.regulator_nanshan).registered == 3
    assert board(world.regulator_nanshan, unit=other).registered == 1
    assert counters.differences() == []
    with commit():
        roster.person_leave(
            person=Personnel.objects.get(user__id_index=id_index_of(number)), actor=world.admin_nanshan
        )
    assert board(world.regulator_nanshan).registered == 2
    assert counters.differences() == []


def test_reg_01_an_enrolment_moved_and_reopened_in_one_save_leaves_nothing_behind(world, programme, commit):
    with commit():
        e = enrolment_create(
            learner=world.learner_nanshan,
            programme=programme,
            organisation=world.ent_nanshan,
            opened_on=dt.date(2026, 10, 20),
        )
    with commit():
        e.organisation, e.opened_on = world.ent_futian, dt.date(2026, 11, 2)
        e.save()
    assert board(world.regulator_nanshan).enrolled == 0
    assert board(world.regulator_futian).by_month == [("2026-11", 1)]
    assert counters.differences() == []


def test_reg_01_a_learner_of_two_units_counts_once(world, commit):
    from safetrain.accounts.services import membership_grant

    with commit():
        membership_grant(user=world.learner_nanshan, organisation=world.team, role=Role.LEARNER)
    nanshan = board(world.regulator_nanshan)
    assert nanshan.registered == 2 == statistics.learners(world.regulator_nanshan, Filters()).count()
    assert sum(n for _sex, n in nanshan.by_sex) == 2
    # The district's rows are its units (an enterprise with its team); the city's are its districts.
    assert {r["name"]: r["learners"] for r in nanshan.by_region} == {"南山建设公司": 2}
    city = board(world.regulator_city)
    assert {r["region"].code: r["learners"] for r in city.by_region if r["region"]} == {
        "440305": 2,
        "440304": 1,
    }
    # At home in the enterprise (its own unit); the team alone counts only the team's own learner.
    assert board(world.regulator_nanshan, unit=world.team).registered == 1
    assert counters.differences() == []
    with commit():  # it leaves the enterprise: now at home in the team
        membership_revoke(
            membership=Membership.objects.get(user=world.learner_nanshan, organisation=world.ent_nanshan)
        )
    assert board(world.regulator_nanshan, unit=world.team).registered == 2
    assert counters.differences() == []


def test_reg_01_an_hour_proof_is_not_a_second_certificate(world, programme, commit):
    with commit():
        e = enrolment_create(
            learner=world.learner_nanshan, programme=programme, organisation=world.ent_nanshan
        )
        certificate(e, "ST26CUBE0100", timezone.localdate())
        certificate(e, "ST26CUBE0101", timezone.localdate(), kind="hour_proof")
    assert (board(world.regulator_nanshan).certificates, board(world.regulator_nanshan).completed) == (1, 1)
    assert counters.differences() == []


def test_reg_01_saves_that_change_nothing_counted_touch_nothing(world, programme):
    counters.drain()
    learner = world.learner_nanshan
    learner.birth_date = dt.date(1980, 1, 1)
    learner.save(update_fields=["birth_date"])
    touched = counters.pending()
    assert touched > 0
    learner.save(update_fields=["last_login"])  # the same instance, later: nothing counted changed
    learner.save()
    assert counters.pending() == touched
    e = enrolment_create(learner=learner, programme=programme, organisation=world.ent_nanshan)
    touched = counters.pending()
    e.save(update_fields=["updated_at"])
    e.save()  # unchanged
    assert counters.pending() == touched + 1  # a full save is checked: its one cell, nothing moved


def test_reg_01_migrate_fills_an_empty_cube_from_the_records(world, programme):
    enrolment_create(learner=world.learner_nanshan, programme=programme, organisation=world.ent_nanshan)
    StatCount.objects.all().delete()
    StatRollup.objects.all().delete()
    assert counters.fill_if_empty() is True  # what post_migrate runs after the upgrade
    assert counters.differences() == []
    assert figures(world.regulator_nanshan)[:2] == (2, 1)
    assert counters.fill_if_empty() is False  # once filled, migrate leaves it to the drain
