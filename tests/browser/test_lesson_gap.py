"""LRN-01, LRN-05 in a real Chromium against the demo server: a lesson left with an unwatched part says what is
missing and where it starts; the button plays it from there (a seek back, reported at once), and playing it
completes the lesson, which the page then says."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import first_sign_in
from tests.demo_server import manage

pytestmark = pytest.mark.browser

# The lesson's first video watched except 0:02-0:06, as an interrupted session could leave it; prints what the test
# needs. Its learner: the Guangzhou shop's third regular learner, whom no other browser test signs in as.
PREPARE_GAP = """
import json
from safetrain.accounts.models import User, id_index_of
from safetrain.learning.models import Enrolment, LessonProgress
from safetrain.learning.quizzes import quiz_passed, quiz_required
from safetrain.learning.selectors import courses_of_enrolment
learner = User.objects.get(id_index=id_index_of("{username}"))
enrolment = Enrolment.objects.filter(learner=learner).first()
lesson = next(
    l for course in courses_of_enrolment(enrolment) for c in course.chapters.all() for l in c.lessons.filter(kind="video"))
d = lesson.duration_seconds
LessonProgress.objects.update_or_create(enrolment=enrolment, lesson=lesson, defaults=dict(
    watched=[[0.0, 2.0], [6.0, d]], credited_seconds=d - 4, furthest_position=d, last_position=d, completed_at=None))
quiz = quiz_required(lesson) and not quiz_passed(enrolment.pk, lesson.pk)
print(json.dumps({{"course": lesson.chapter.course.code, "lesson": lesson.pk, "duration": d, "quiz": quiz}}))
"""
PLAYING_AT = "(t) => { const v = document.querySelector('video'); return !v.paused && v.currentTime >= t; }"


def test_lrn_01_lrn_05_the_page_names_the_unwatched_part_and_playing_it_completes_the_lesson(
    demo_server, browser
):
    url = demo_server.url
    learner = [
        a
        for a in demo_server.accounts
        if a["role"] == "learner"
        and a["organisation"] == "广州市明达商贸有限公司"
        and a["key"].startswith("learner")
    ][2]
    out = manage(demo_server.env, "shell", "-c", PREPARE_GAP.format(username=learner["username"]))
    lesson = json.loads(out.strip().splitlines()[-1])
    assert lesson["duration"] > 10
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    first_sign_in(page, url, learner, "Queke#2026")
    page.goto(f"{url}/courses/{lesson['course']}/lessons/{lesson['lesson']}/")
    player = page.locator("[data-player]")
    expect(player).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("study-gap")).to_contain_text("还差 0:04 未学习，请从 0:02 继续播放")
    # Where the course has a quiz bank, a watched video says the quiz comes next, not that the lesson is complete.
    end_note = page.get_by_test_id("lesson-watched" if lesson["quiz"] else "lesson-done")
    expect(end_note).to_be_hidden()
    # The learner first plays on elsewhere in the watched part ...
    page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true; v.currentTime = 9; v.play(); }"
    )
    page.wait_for_function(PLAYING_AT, arg=10)
    # ... then uses the button: playback goes back to 0:02 and the gap is credited as it plays.
    button = page.get_by_test_id("play-gap")
    expect(button).to_have_text("从 0:02 继续播放")
    button.click()
    page.wait_for_function("() => document.querySelector('video').currentTime < 6")
    expect(end_note).to_be_visible()
    if lesson["quiz"]:
        expect(page.get_by_test_id("lesson-done")).to_have_count(0)
        expect(page.get_by_test_id("quiz-link")).to_be_visible()
    expect(page.get_by_test_id("study-gap")).to_be_hidden()
    assert float(player.get_attribute("data-credited-seconds")) == pytest.approx(lesson["duration"], abs=0.5)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
