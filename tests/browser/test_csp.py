"""OPS-06 in a real Chromium against the demo server (DEBUG off, the production Content-Security-Policy): the pages
whose inline handlers and scripts became static modules still work, and none of them reports a policy violation:
the language switch of every page (base.html), the unit choice on the people page, select-all on a class page,
the lesson quiz's countdown."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import first_sign_in, sign_in
from tests.demo_server import manage

pytestmark = pytest.mark.browser

PROJECT = "南山科技园二期项目"
# Every policy violation of a page, as the browser reports it (before any of the page's own scripts run).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
    `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

# A learner enrolled in a Tianjin programme, its first lesson watched; ten quiz questions of the demo test's own
# (whatever an earlier test left active) so that the lesson's quiz can start. Prints what the test needs.
PREPARE_QUIZ = """
import json
from django.utils import timezone
from safetrain.accounts.models import User, id_index_of
from safetrain.catalog.models import Programme
from safetrain.learning.models import Enrolment, LessonProgress, QuizQuestion
from safetrain.learning.selectors import courses_of_enrolment
from safetrain.learning.services import enrolment_create
learner = User.objects.get(id_index=id_index_of("{username}"))
programme = Programme.objects.get(code="tj-ce-16h")
enrolment = Enrolment.objects.filter(learner=learner, programme=programme).first() or enrolment_create(
    learner=learner, programme=programme)
lesson = next(
    l for course in courses_of_enrolment(enrolment) for c in course.chapters.all() for l in c.lessons.filter(kind="video"))
course = lesson.chapter.course
d = lesson.duration_seconds
LessonProgress.objects.update_or_create(enrolment=enrolment, lesson=lesson, defaults=dict(
    watched=[[0.0, d]], credited_seconds=d, furthest_position=d, last_position=d, completed_at=timezone.now()))
for n in range(10):
    QuizQuestion.objects.create(course=course, kind="single", stem=f"内容安全策略测试题{{n}}",
                                options=["正确", "错误"], answer=[0])
print(json.dumps({{"course": course.code, "lesson": lesson.pk}}))
"""
TIDY_QUIZ = """
from safetrain.learning.models import QuizQuestion
QuizQuestion.objects.filter(stem__startswith="内容安全策略测试题").update(is_active=False)
"""


def watched(context):
    context.add_init_script(WATCH)
    return context


def no_violations(page) -> None:
    assert page.evaluate("() => window.__violations") == []


def test_ops_06_the_language_switch_people_and_class_pages_work_under_the_policy(demo_server, browser):
    url = demo_server.url
    context = watched(browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}))
    page = context.new_page()
    response = page.goto(f"{url}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    # base.html: choosing a language submits the switch (data-autosubmit), and back.
    page.locator("footer select[name=language]").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    no_violations(page)
    page.locator("footer select[name=language]").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    officer = next(
        a for a in demo_server.accounts if a["organisation"] == PROJECT and a["role"] == "enterprise_admin"
    )
    sign_in(page, url, officer["username"], officer["password"])
    expect(page).to_have_url(f"{url}/")

    # The people page: choosing a unit shows it (data-autosubmit).
    page.goto(f"{url}/enterprise/people/")
    unit = page.locator("select[name=unit]")
    chosen = unit.locator("option").last.get_attribute("value")
    unit.select_option(chosen)
    expect(page).to_have_url(re.compile(rf"/enterprise/people/\?unit={chosen}$"))
    no_violations(page)

    # A class page: select-all ticks and clears every candidate (data-select-all).
    page.goto(f"{url}/enterprise/classes/")
    form = page.get_by_test_id("class-form")
    form.locator("select[name=unit]").select_option(label=PROJECT)
    form.locator("select[name=programme]").select_option(label="深圳市建筑施工人员安全教育培训")
    form.locator("input[name=name]").fill("内容安全策略检查班")
    form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("内容安全策略检查班")
    people = page.get_by_test_id("candidates").locator("input[name=person]")
    expect(people.first).to_be_visible()
    page.get_by_test_id("select-all").check()
    assert all(people.evaluate_all("boxes => boxes.map(b => b.checked)"))
    page.get_by_test_id("select-all").uncheck()
    assert not any(people.evaluate_all("boxes => boxes.map(b => b.checked)"))
    no_violations(page)
    context.close()


def test_ops_06_the_lesson_quiz_counts_down_and_submits_under_the_policy(demo_server, browser):
    url = demo_server.url
    # Browser tests share one demo server: a learner no other test signs in as or counts (the Guangzhou shop's first;
    # the project's workers are test_classes' "not trained yet").
    learner = next(
        a
        for a in demo_server.accounts
        if a["role"] == "learner" and a["organisation"] == "广州市明达商贸有限公司"
    )
    out = manage(demo_server.env, "shell", "-c", PREPARE_QUIZ.format(username=learner["username"]))
    quiz = json.loads(out.strip().splitlines()[-1])
    try:
        context = watched(browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}))
        page = context.new_page()
        first_sign_in(page, url, learner, "Suitang#2026")
        page.goto(f"{url}/courses/{quiz['course']}/lessons/{quiz['lesson']}/quiz/")
        timer = page.get_by_test_id("quiz-timer")
        start = int(timer.get_attribute("data-seconds"))
        assert start > 5
        # quiz.js shows the seconds left, counting down.
        page.wait_for_function(
            f"() => Number(document.querySelector('[data-testid=quiz-timer]').textContent) < {start}",
            timeout=90_000,
        )
        no_violations(page)
        for fieldset in page.locator("[data-testid=quiz-form] fieldset").all():
            fieldset.locator("input").first.check()
        page.locator("[data-testid=quiz-form] button[type=submit]").click()
        expect(page.get_by_test_id("quiz-result")).to_contain_text("得分")
        no_violations(page)
        context.close()
    finally:
        manage(demo_server.env, "shell", "-c", TIDY_QUIZ)
