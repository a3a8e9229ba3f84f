"""PRG-02/PRG-03: which courses an enrolment brings (general + own job-type course); required and elective."""

from __future__ import annotations

import pytest

from conftest import make_user
from safetrain.catalog.models import JobType
from safetrain.catalog.tests.factories import published_course, published_programme, ready_video
from safetrain.learning.selectors import courses_of_enrolment
from safetrain.learning.services import enrolment_create


@pytest.fixture
def shenzhen(db):
    video = ready_video()
    general = published_course(
        "SZ-GEN-T", "通用课", video=video, is_public=True, construction_category="general"
    )
    rebar = published_course(
        "SZ-GJ-T",
        "钢筋工案例",
        video=video,
        construction_category="job_type_cases",
        job_types=[JobType.objects.get(code="GJ")],
    )
    hazardous = published_course("SZ-WD-T", "危大工程", video=video, construction_category="hazardous_works")
    # A rebar course of another programme must never be added to this one's workers.
    published_course(
        "OTHER-GJ",
        "别的项目的钢筋工课",
        video=video,
        construction_category="job_type_cases",
        job_types=[JobType.objects.get(code="GJ")],
    )
    programme = published_programme(
        "sz-t",
        [general, rebar],
        profile="shenzhen_construction",
        audience="construction_worker",
        includes_job_type_course=True,
    )
    return programme, general, rebar, hazardous


@pytest.mark.parametrize(
    ("job", "expected"),
    [("GJ", {"SZ-GEN-T", "SZ-GJ-T"}), ("AQY", {"SZ-GEN-T"}), ("PG", {"SZ-GEN-T"}), (None, {"SZ-GEN-T"})],
    ids=["rebar-worker", "safety-officer-management", "job-type-without-course", "no-job-type"],
)
def test_prg_02_prg_03_a_shenzhen_worker_gets_the_general_course_plus_the_own_job_type_course(
    shenzhen, world, job, expected
):
    programme = shenzhen[0]
    learner = make_user(world.team, name="工人")
    enrolment = enrolment_create(
        learner=learner, programme=programme, job_type=JobType.objects.get(code=job) if job else None
    )
    assert set(courses_of_enrolment(enrolment).values_list("code", flat=True)) == expected


def test_cat_01_hazardous_courses_are_study_only(shenzhen):
    assert shenzhen[3].is_study_only is True
    assert shenzhen[1].is_study_only is False


def test_prg_01_courses_carry_required_or_elective_in_the_programmes_order(world):
    from safetrain.catalog.models import RegionProfile
    from safetrain.catalog.services import programme_course_add, programme_create, programme_publish

    video = ready_video()
    first = published_course("ORD-B", "必修课", video=video)
    second = published_course("ORD-A", "选修课", video=video)
    programme = programme_create(
        code="ord",
        name="顺序",
        profile=RegionProfile.objects.get(code="shanxi"),
        kind="initial",
        audience="other",
        required_minutes=30,
    )
    programme_course_add(programme=programme, course=first)
    programme_course_add(programme=programme, course=second, is_required=False)
    programme_publish(programme=programme)
    enrolment = enrolment_create(learner=world.learner_nanshan, programme=programme)
    assert [(c.code, c.is_required) for c in courses_of_enrolment(enrolment)] == [
        ("ORD-B", True),
        ("ORD-A", False),
    ]


def test_prg_03_lrn_06_a_worker_without_a_job_type_course_must_study_the_general_course_only_and_all_of_it(
    world,
):
    """A general worker (普工) or a manager gets the general course alone: its length is what is required (not the
    programme's general + job-type minutes, which they could never reach), and the exam opens only once that
    course is complete."""
    from django.utils import timezone

    from safetrain.assessment.exams import unlock_problems
    from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
    from safetrain.learning.models import LessonProgress
    from safetrain.learning.selectors import enrolment_overview
    from safetrain.learning.tests.conftest import video_of

    def course(code, seconds, **kw):
        c = course_create(code=code, title=code, **kw)
        lesson_add(chapter=chapter_add(course=c, title="章"), title="节", video=video_of(seconds))
        return course_publish(course=c)

    general = course("SZ-GEN-M", 600, is_public=True, construction_category="general")
    rebar = course(
        "SZ-GJ-M", 1200, construction_category="job_type_cases", job_types=[JobType.objects.get(code="GJ")]
    )
    programme = published_programme(
        "sz-m",
        [general, rebar],
        profile="shenzhen_construction",
        audience="construction_worker",
        includes_job_type_course=True,
        required_minutes=30,
    )
    worker = enrolment_create(
        learner=make_user(world.team, name="普工"),
        programme=programme,
        job_type=JobType.objects.get(code="PG"),
    )
    rebar_worker = enrolment_create(
        learner=make_user(world.team, name="钢筋工"),
        programme=programme,
        job_type=JobType.objects.get(code="GJ"),
    )
    row = next(r for r in enrolment_overview(worker.learner) if r["id"] == worker.pk)
    assert row["required_minutes"] == 10  # the general course's 600 s
    assert next(r for r in enrolment_overview(rebar_worker.learner))["required_minutes"] == 30
    assert any("通用" in p or "SZ-GEN-M" in p for p in unlock_problems(worker))
    lesson = general.chapters.first().lessons.first()
    LessonProgress.objects.create(
        enrolment=worker,
        lesson=lesson,
        watched=[[0.0, 600.0]],
        credited_seconds=600,
        furthest_position=600,
        completed_at=timezone.now(),
    )
    assert unlock_problems(worker) == []
