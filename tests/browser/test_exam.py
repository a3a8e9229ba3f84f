"""EXM-03, EXM-04 in a real Chromium against the demo server: a learner starts the Tianjin exam, answers, closes
the page and comes back to the same paper with every answer; an answer given while offline is kept and saved when
the connection returns; the paper is submitted and scored."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, first_sign_in
from tests.demo_server import manage

pytestmark = pytest.mark.browser

# The demo course is a 20-second clip: the learner is made to have studied it all, with no minimum study time.
PREPARE = """
from django.utils import timezone
from safetrain.accounts.models import User, id_index_of
from safetrain.catalog.models import Programme
from safetrain.learning.models import LessonProgress, QuizQuestion
from safetrain.learning.selectors import courses_of_enrolment
from safetrain.learning.services import enrolment_create
learner = User.objects.get(id_index=id_index_of("{username}"))
programme = Programme.objects.get(code="tj-ce-16h")
Programme.objects.filter(pk=programme.pk).update(min_study_days=0, required_minutes=0, required_public_minutes=0)
enrolment = enrolment_create(learner=learner, programme=Programme.objects.get(pk=programme.pk))
courses = list(courses_of_enrolment(enrolment))
QuizQuestion.objects.filter(course__in=courses).update(is_active=False)
for course in courses:
    for chapter in course.chapters.all():
        for lesson in chapter.lessons.filter(kind="video"):
            d = lesson.duration_seconds
            LessonProgress.objects.update_or_create(enrolment=enrolment, lesson=lesson, defaults=dict(
                watched=[[0.0, d]], credited_seconds=d, furthest_position=d, last_position=d,
                completed_at=timezone.now()))
"""


def option(page, number: int):
    return page.locator("[data-question]").nth(number).locator("input").first


def test_exm_04_an_exam_survives_a_closed_page_and_a_lost_connection(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    learner = next(a for a in demo_server.accounts if a["key"] == "learner20")  # the last of the units' 20
    manage(demo_server.env, "shell", "-c", PREPARE.format(username=learner["username"]))
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    url = demo_server.url
    first_sign_in(page, url, learner, "Kaoshi#2026")
    page.goto(f"{url}/assessment/exams/")
    page.get_by_test_id("start-exam").click()
    expect(page.get_by_test_id("exam-guide")).to_contain_text("单选题 40 × 1.5")
    page.get_by_test_id("start-button").click()
    exam = page.locator("[data-exam]")
    expect(page.locator("[data-question]")).to_have_count(70)
    for number in range(3):
        option(page, number).check()
    expect(exam).to_have_attribute("data-saved", "true", timeout=90_000)
    expect(page.locator(".exam-nav a.answered")).to_have_count(3)
    page.screenshot(path=str(SHOTS / "exam-answering.png"))

    # The page closes (a crash, a closed tab); the learner comes back to the same paper with every answer.
    page.close()
    again = context.new_page()
    again.goto(f"{url}/assessment/exams/")
    again.get_by_test_id("resume-exam").click()
    for number in range(3):
        expect(option(again, number)).to_be_checked()
    expect(again.locator(".exam-nav a.answered")).to_have_count(3)

    # The network drops: the answer is kept on the page and saved when the connection is back.
    context.set_offline(True)
    option(again, 3).check()
    expect(again.get_by_test_id("save-state")).to_contain_text("网络已断开", timeout=90_000)
    context.set_offline(False)
    again.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(again.locator("[data-exam]")).to_have_attribute("data-saved", "true", timeout=90_000)
    again.reload()
    expect(option(again, 3)).to_be_checked()

    # UX-01 on a phone: the navigator is folded, its summary counts the answers, and nothing scrolls sideways.
    again.set_viewport_size({"width": 390, "height": 844})
    again.reload()
    navigator = again.get_by_test_id("navigator-box")
    expect(navigator).not_to_have_attribute("open", "")
    expect(again.get_by_test_id("navigator-summary")).to_have_text("已答 4 / 共 70 · 未答 66")
    expect(again.locator(".exam-nav a").first).to_be_hidden()
    assert again.evaluate("() => document.documentElement.scrollWidth") <= 390
    again.get_by_test_id("navigator-summary").click()
    expect(again.locator(".exam-nav a").first).to_be_visible()
    again.screenshot(path=str(SHOTS / "exam-phone-navigator.png"))
    again.set_viewport_size({"width": 1280, "height": 900})

    # Submitted: the result comes at once.
    again.on("dialog", lambda dialog: dialog.accept())
    again.get_by_test_id("submit-paper").click()
    expect(again.get_by_test_id("exam-result")).to_be_visible(timeout=90_000)
    expect(again.get_by_test_id("verdict")).to_contain_text("未通过")
    expect(again.get_by_test_id("next-step")).to_contain_text("还有 2 次考试机会")
    again.screenshot(path=str(SHOTS / "exam-result.png"))
    context.close()
