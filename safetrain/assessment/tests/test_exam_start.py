"""LRN-06, EXM-03..05: starting a paper reads only the enrolment it is for. What still has to be studied comes from
that enrolment's own totals (learning.selectors.enrolment_standing), with the same results and messages as from
the learner's whole study record (enrolment_overview); and a start runs a bounded number of queries."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import make_user
from safetrain.assessment.exams import active_rule, exam_start, unlock_problems
from safetrain.assessment.tests.conftest import studied
from safetrain.catalog.models import JobType
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.learning.models import DailyCredit, Enrolment, LessonProgress, QuizAttempt, QuizQuestion
from safetrain.learning.selectors import enrolment_overview
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import video_of


def both_ways(enrolment: Enrolment) -> list[str]:
    """The enrolment's own totals and the learner's whole overview say the same."""
    own = unlock_problems(enrolment)
    assert own == unlock_problems(enrolment, enrolment_overview(enrolment.learner))
    return own


def course(code: str, *lessons: float, chapters: int = 1, **kw):
    made = course_create(code=code, title=f"课程{code}", **kw)
    for number in range(chapters):
        chapter = chapter_add(course=made, title=f"第{number + 1}章")
        for index, seconds in enumerate(lessons):
            lesson_add(chapter=chapter, title=f"{code}-{number + 1}.{index + 1}", video=video_of(seconds))
    return course_publish(course=made)


def watch(enrolment: Enrolment, lesson, seconds: float, *, complete: bool = True) -> None:
    LessonProgress.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        watched=[[0.0, seconds]],
        furthest_position=seconds,
        credited_seconds=seconds,
        completed_at=timezone.now() if complete else None,
    )


def lessons_of(made) -> list:
    return [ls for ch in made.chapters.order_by("order", "pk") for ls in ch.lessons.order_by("order", "pk")]


def test_lrn_06_done_and_short_of_minutes(programme, world):
    learner = world.learner_nanshan
    studied(learner, programme)
    assert both_ways(learner.enrolments.get()) == []
    other = make_user(world.ent_nanshan, name="学员乙")
    enrolment = enrolment_create(learner=other, programme=programme)
    assert both_ways(enrolment) == ["学习时长：0 / 2 分钟。"]
    watch(enrolment, programme.lesson, 100, complete=False)  # credited, but the course is not complete
    assert both_ways(enrolment) == ["学习时长：0 / 2 分钟。"]
    LessonProgress.objects.filter(enrolment=enrolment).update(
        completed_at=timezone.now(), credited_seconds=64.5
    )
    assert both_ways(enrolment) == ["学习时长：1 / 2 分钟。"]


def test_lrn_06_public_minutes_and_study_days(world):
    public = course("PUB", 60, is_public=True)
    professional = course("PRO", 120, 120, chapters=2)
    programme = published_programme(
        "pub-days", [public, professional], required_minutes=4, required_public_minutes=3, min_study_days=3
    )
    learner = world.learner_nanshan
    enrolment = enrolment_create(learner=learner, programme=programme)
    for lesson in lessons_of(public) + lessons_of(professional):
        watch(enrolment, lesson, 120)
    today = timezone.localdate()
    DailyCredit.objects.create(learner=learner, enrolment=enrolment, day=today, seconds=600)
    DailyCredit.objects.create(
        learner=learner,
        enrolment=enrolment,
        day=today - dt.timedelta(days=1),
        seconds=300,
        cancelled_seconds=300,
    )  # cancelled for cheating: no study day
    assert both_ways(enrolment) == ["公共课学习时长：2 / 3 分钟。", "学习天数：1 / 3 天。"]
    DailyCredit.objects.create(
        learner=learner, enrolment=enrolment, day=today - dt.timedelta(days=2), seconds=60
    )
    DailyCredit.objects.create(
        learner=learner, enrolment=enrolment, day=today - dt.timedelta(days=3), seconds=60
    )
    assert both_ways(enrolment) == ["公共课学习时长：2 / 3 分钟。"]


def test_lrn_06_qz_01_quizzes_waiting_in_the_order_of_the_course(programme, world):
    made = course("QZ", 60, 60, chapters=2, is_public=True)
    quiz_programme = published_programme("qz", [made], required_minutes=1)
    QuizQuestion.objects.create(course=made, kind="single", stem="题", options=["对", "错"], answer=[0])
    enrolment = enrolment_create(learner=world.learner_nanshan, programme=quiz_programme)
    lessons = lessons_of(made)
    for lesson in lessons:
        watch(enrolment, lesson, 60)
    now = timezone.now()
    QuizAttempt.objects.create(
        enrolment=enrolment, lesson=lessons[1], try_number=1, started_at=now, deadline=now, passed=True
    )
    assert both_ways(enrolment) == [
        "学习时长：0 / 1 分钟。",  # no course is complete while a quiz waits
        "尚未通过随堂测试的课程：QZ-1.1、QZ-2.1、QZ-2.2。",
    ]


def test_prg_02_lrn_06_the_own_job_type_course(world):
    general = course("SZ-GEN-U", 600, is_public=True, construction_category="general")
    rebar = course(
        "SZ-GJ-U",
        300,
        300,
        construction_category="job_type_cases",
        job_types=[JobType.objects.get(code="GJ")],
    )
    programme = published_programme(
        "sz-u",
        [general, rebar],
        profile="shenzhen_construction",
        audience="construction_worker",
        includes_job_type_course=True,
        required_minutes=30,
    )
    worker = enrolment_create(
        learner=make_user(world.team, name="钢筋工"),
        programme=programme,
        job_type=JobType.objects.get(code="GJ"),
    )
    general_worker = enrolment_create(
        learner=make_user(world.team, name="普工"),
        programme=programme,
        job_type=JobType.objects.get(code="PG"),
    )
    watch(worker, lessons_of(general)[0], 600)
    problems = both_ways(worker)
    assert "学习时长：10 / 20 分钟。" in problems  # the own courses' 1,200 s, not the programme's 30 minutes
    assert "课程未全部完成：课程SZ-GJ-U。" in problems
    assert both_ways(general_worker)[0] == "学习时长：0 / 10 分钟。"
    watch(general_worker, lessons_of(general)[0], 600)
    assert both_ways(general_worker) == []


def test_lrn_07_an_enrolment_past_its_deadline(programme, world):
    learner = world.learner_nanshan
    studied(learner, programme)
    enrolment = learner.enrolments.get()
    Enrolment.objects.filter(pk=enrolment.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    enrolment.refresh_from_db()
    assert both_ways(enrolment) == ["报名已失效（已过截止日期或已被取消）。"]


def test_exm_03_lrn_06_a_start_reads_one_enrolment_in_a_bounded_number_of_queries(
    programme, world, django_assert_max_num_queries
):
    """However much else the learner studies, a start runs the same queries (the bound also guards the start on
    exam day, when a whole class starts within a minute)."""
    active_rule(programme)  # (made from the programme's preset by its first start)
    plain = make_user(world.ent_nanshan, name="学员甲")
    busy = make_user(world.ent_nanshan, name="学员乙")
    for number in range(3):
        other = course(f"OTHER{number}", 60, 60, chapters=3)
        enrolment = enrolment_create(learner=busy, programme=published_programme(f"other{number}", [other]))
        for lesson in lessons_of(other):
            watch(enrolment, lesson, 60)
    counts = []
    for learner in (plain, busy):
        studied(learner, programme)
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(30):
            attempt = exam_start(learner=learner, programme=programme)
        assert len(attempt.items) == 70
        progress = [q["sql"] for q in queries.captured_queries if "learning_lessonprogress" in q["sql"]]
        assert len(progress) == 1  # this enrolment's only
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]
