"""PRG-01..04: programmes, hour presets, profile overrides, deadlines, job-type courses, offline sessions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safetrain.catalog.models import RegionProfile
from safetrain.catalog.services import offline_session_record, programme_create
from safetrain.core.errors import DomainError


def profile(code: str) -> RegionProfile:
    return RegionProfile.objects.get(code=code)


@pytest.mark.parametrize(
    ("kind", "high_risk", "hours"),
    [("initial", False, 32), ("refresher", False, 12), ("initial", True, 48), ("refresher", True, 16)],
)
def test_prg_02_principal_and_safety_manager_hours_come_from_the_national_presets(db, kind, high_risk, hours):
    programme = programme_create(
        code=f"p-{kind}-{high_risk}",
        name="主要负责人",
        profile=profile("guangdong_online"),
        kind=kind,
        audience="principal_safety_manager",
        high_risk=high_risk,
    )
    assert programme.required_minutes == hours * 45
    assert programme.required_class_hours == Decimal(hours)


def test_prg_01_tianjin_counts_40_minute_class_hours(db):
    programme = programme_create(
        code="tj",
        name="天津初训",
        profile=profile("tianjin_ce"),
        kind="initial",
        audience="principal_safety_manager",
        high_risk=False,
    )
    assert programme.required_minutes == 32 * 40
    sixteen = programme_create(
        code="tj16",
        name="16学时",
        profile=profile("tianjin_ce"),
        kind="continuing",
        audience="other",
        required_minutes=640,
    )
    assert sixteen.required_class_hours == Decimal(16)


def test_pol_a_programme_overrides_a_profile_value_and_keeps_the_rest(db):
    programme = programme_create(
        code="ovr",
        name="覆盖",
        profile=profile("tianjin_ce"),
        kind="continuing",
        audience="other",
        required_minutes=640,
        exam_pass_mark=70,
        min_study_days=5,
    )
    assert programme.setting("exam_pass_mark") == 70
    assert programme.setting("min_study_days") == 5
    assert programme.setting("class_hour_minutes") == 40  # from the profile
    assert programme.setting("mobile_exams_allowed") is False


def test_prg_01_bad_programme_input_is_refused(db):
    with pytest.raises(DomainError) as err:
        programme_create(code="x", name="x", profile=profile("shanxi"), kind="initial", audience="other")
    assert err.value.code == "minutes_required"
    with pytest.raises(DomainError) as err:
        programme_create(
            code="y",
            name="y",
            profile=profile("shanxi"),
            kind="initial",
            audience="other",
            required_minutes=60,
            required_public_minutes=90,
        )
    assert err.value.code == "public_exceeds_total"
    with pytest.raises(DomainError) as err:
        programme_create(
            code="z",
            name="z",
            profile=profile("shanxi"),
            kind="initial",
            audience="other",
            required_minutes=60,
            deadline_kind="fixed",
        )
    assert err.value.code == "deadline_date_required"


def test_lrn_07_deadlines_fixed_or_days_after_opening(db):
    opened = dt.date(2026, 3, 1)
    after = programme_create(
        code="d30",
        name="30天",
        profile=profile("guangdong_online"),
        kind="initial",
        audience="other",
        required_minutes=60,
        deadline_kind="after_opening",
        deadline_days=30,
    )
    assert after.deadline_for(opened) == dt.date(2026, 3, 31)
    profile_default = programme_create(
        code="dgd",
        name="广东默认",
        profile=profile("guangdong_online"),
        kind="initial",
        audience="other",
        required_minutes=60,
        deadline_kind="after_opening",
    )
    assert profile_default.deadline_for(opened) == dt.date(2026, 3, 31)  # the profile's 30 days
    fixed = programme_create(
        code="dfix",
        name="固定",
        profile=profile("tianjin_ce"),
        kind="continuing",
        audience="other",
        required_minutes=640,
        deadline_kind="fixed",
        deadline_date=dt.date(2026, 12, 31),
    )
    assert fixed.deadline_for(opened) == dt.date(2026, 12, 31)


def test_prg_04_offline_sessions_record_attendance_and_the_required_share(world):
    programme = programme_create(
        code="sx",
        name="山西三项岗位",
        profile=profile("shanxi"),
        kind="initial",
        audience="principal_safety_manager",
        high_risk=False,
    )
    assert programme.required_minutes == 1440
    # "不少于大纲规定的1/3学时": a third of the 32-hour syllabus, 480 minutes
    assert programme.offline_minutes_required() == 480
    photo = SimpleUploadedFile("sign.jpg", b"\xff\xd8\xff\xe0" + b"0" * 200, content_type="image/jpeg")
    session = offline_session_record(
        programme=programme,
        organisation=world.ent_nanshan,
        date=dt.date(2026, 11, 1),
        place="二楼会议室",
        teacher="王老师",
        content="本单位安全操作规程",
        minutes=240,
        learners=[world.learner_nanshan],
        absent=[world.learner_team],
        photos=[photo],
        actor=world.admin_nanshan,
    )
    assert session.attendance.filter(present=True).count() == 1
    assert session.attendance.filter(present=False).count() == 1
    assert session.photos.count() == 1
    with pytest.raises(DomainError):
        offline_session_record(
            programme=programme,
            organisation=world.ent_nanshan,
            date=dt.date(2026, 11, 1),
            place="",
            teacher="王老师",
            content="x",
            minutes=60,
        )
    with pytest.raises(DomainError):
        offline_session_record(
            programme=programme,
            organisation=world.ent_nanshan,
            date=dt.date(2026, 11, 1),
            place="a",
            teacher="b",
            content="c",
            minutes=0,
        )


def test_prg_04_an_offline_share_is_a_fraction_below_one(db):
    with pytest.raises(DomainError) as err:
        programme_create(
            code="bad-share",
            name="x",
            profile=profile("shanxi"),
            kind="initial",
            audience="other",
            required_minutes=60,
            offline_min_fraction="1",
        )
    assert err.value.code == "invalid_share"
    third = programme_create(
        code="third",
        name="y",
        profile=profile("guangdong_online"),
        kind="initial",
        audience="other",
        required_minutes=100,
        offline_min_fraction="1/3",
    )
    assert third.offline_minutes_required() == 34


def test_prg_01_only_profile_values_can_be_overridden(db):
    with pytest.raises(DomainError) as err:
        programme_create(
            code="sneaky",
            name="x",
            profile=profile("shanxi"),
            kind="initial",
            audience="other",
            required_minutes=60,
            is_published=True,
        )
    assert err.value.code == "invalid_fields"


def test_lrn_07_the_profiles_deadline_applies_unless_the_programme_sets_one(db):
    opened = dt.date(2026, 3, 1)
    default = programme_create(
        code="gd-default",
        name="x",
        profile=profile("guangdong_online"),
        kind="initial",
        audience="other",
        required_minutes=60,
    )
    assert default.deadline_for(opened) == dt.date(2026, 3, 31)
    none = programme_create(
        code="gd-none",
        name="y",
        profile=profile("guangdong_online"),
        kind="initial",
        audience="other",
        required_minutes=60,
        deadline_kind="none",
    )
    assert none.deadline_for(opened) is None
