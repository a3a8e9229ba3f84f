"""LRN-05, LRN-08 in the browser's pages: credited time and what is missing on the lesson page, ticks and
percentages in the outline, and each programme's progress and next step on the learner's desk."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safetrain.learning.models import Enrolment, LessonProgress


def given_watched(lesson, learner, watched, *, completed=False, last_position=None):
    enrolment = Enrolment.objects.get(learner=learner)
    return LessonProgress.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        watched=watched,
        credited_seconds=sum(b - a for a, b in watched),
        furthest_position=max(b for _a, b in watched),
        last_position=max(b for _a, b in watched) if last_position is None else last_position,
        completed_at=enrolment.created_at if completed else None,
    )


def lesson_url(lesson):
    return reverse("learning:lesson", args=[lesson.chapter.course.code, lesson.pk])


def test_lrn_05_the_lesson_page_shows_the_credited_time_and_what_is_missing_on_opening(
    lesson, world, web_client
):
    given_watched(lesson, world.learner_nanshan, [[0.0, 100.0], [110.0, 300.0]])
    page = web_client(world.learner_nanshan).get(lesson_url(lesson)).content.decode()
    credited = page[page.index('data-testid="credited"') :]
    assert credited.startswith('data-testid="credited">4:50</strong> / 5:00')  # not "0.0 分钟"
    assert "还差 0:10 未学习，请从 1:40 继续播放" in page
    button = page[page.index('data-testid="play-gap"') :]
    assert button.startswith('data-testid="play-gap" data-seek="100.000">从 1:40 继续播放</button>')
    assert 'data-testid="lesson-done" hidden' in page


def test_lrn_05_a_completed_lesson_says_so_and_names_no_gap(lesson, world, web_client):
    given_watched(lesson, world.learner_nanshan, [[0.0, 299.0]], completed=True)
    page = web_client(world.learner_nanshan).get(lesson_url(lesson)).content.decode()
    assert "本课已完成" in page
    assert 'data-testid="lesson-done" hidden' not in page
    assert 'data-testid="study-gap" hidden' in page
    assert 'data-testid="gap-text"></span>' in page


def test_lrn_08_the_outline_shows_a_tick_or_a_percentage_per_lesson_and_per_course(lesson, world, web_client):
    given_watched(lesson, world.learner_nanshan, [[0.0, 299.0]], completed=True)
    second = lesson.chapter.lessons.exclude(pk=lesson.pk).get()
    given_watched(second, world.learner_nanshan, [[0.0, 30.0]])
    page = web_client(world.learner_nanshan).get(f"/courses/{lesson.chapter.course.code}/").content.decode()
    marks = page.split('data-testid="lesson-mark">')[1:]
    assert len(marks) == 2
    assert marks[0].split("</span>", 2)[1].strip().startswith("已完成")  # the tick, then "已完成"
    assert "✓" in marks[0].split("</span>", 1)[0]
    assert marks[1].startswith("25 %")  # 30 s of 120 s
    course = page[page.index('data-testid="course-progress"') :]
    assert "课程进度" in course
    assert "78 %" in course  # (300 + 30) of 420 s
    # The lesson page's outline carries the same marks.
    assert page.count('data-testid="lesson-mark"') == 2


def test_lrn_08_a_finished_course_gets_its_tick(lesson, world, web_client):
    given_watched(lesson, world.learner_nanshan, [[0.0, 299.0]], completed=True)
    second = lesson.chapter.lessons.exclude(pk=lesson.pk).get()
    given_watched(second, world.learner_nanshan, [[0.0, 120.0]], completed=True)
    page = web_client(world.learner_nanshan).get(lesson_url(second)).content.decode()
    course = page[page.index('data-testid="course-progress"') :]
    assert "本课程已完成" in course
    assert "100 %" in course


def test_lrn_08_the_desk_shows_each_programmes_progress_deadline_and_next_step(lesson, world, web_client):
    given_watched(lesson, world.learner_nanshan, [[0.0, 100.0], [110.0, 300.0]])
    page = web_client(world.learner_nanshan).get("/").content.decode()
    panel = page[page.index('data-testid="learner-card"') :]
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    assert enrolment.programme.name in panel
    assert "已学完课节：0 / 2" in panel
    assert "截止日期" in panel
    step = panel[panel.index('data-testid="next-step"') :]
    assert f'href="{lesson_url(lesson)}"' in step
    assert "继续学习" in step
    assert "第一节" in step
    assert "从 1:40 起" in step
    assert page.count('data-testid="learner-card"') == 1  # one study card, the old static one is gone


@pytest.mark.parametrize("finished", [False, True], ids=["not-started", "all-studied"])
def test_lrn_08_the_desk_next_step_starts_at_the_top_or_says_all_is_studied(
    lesson, world, web_client, finished
):
    second = lesson.chapter.lessons.exclude(pk=lesson.pk).get()
    if finished:
        given_watched(lesson, world.learner_nanshan, [[0.0, 300.0]], completed=True)
        given_watched(second, world.learner_nanshan, [[0.0, 120.0]], completed=True)
    page = web_client(world.learner_nanshan).get("/").content.decode()
    step = page[page.index('data-testid="next-step"') :]
    if finished:
        assert "本培训的课节已全部学完" in step
    else:
        assert f'href="{lesson_url(lesson)}"' in step
        assert "从 0:00 起" in step


def test_lrn_08_the_desk_shows_only_the_learners_own_programmes(lesson, world, web_client):
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    page = web_client(world.learner_futian).get("/").content.decode()
    assert enrolment.programme.name not in page
    assert lesson_url(lesson) not in page
    assert 'data-testid="learner-card"' in page  # a learner without a programme is told how one comes
    assert "desk-programme" not in page
