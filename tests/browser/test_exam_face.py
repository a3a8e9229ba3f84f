"""FACE-01 during the exam in a real Chromium whose camera is a clip made from the test photos: after the check at
the start, an identity check falls due at a random moment during the exam; the camera panel opens while answering
and the countdown go on, and the candidate passes it. In a second exam the enrolled learner passes the start check
and someone else takes over the signed-in browser: the check during the exam fails the profile's number of times,
the attempt ends and every answer saved before is kept and scored."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, first_sign_in, launch_with_camera
from tests.browser.test_exam import PREPARE
from tests.demo_server import manage, start_demo_server

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Kaoshi#2026face"

# The learner of PREPARE with an approved ID photo; the exam's profile asks for a check within a minute and allows
# two failed tries before the attempt ends.
SETUP = (
    PREPARE
    + """
from safetrain.catalog.models import RegionProfile
from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait
operator = next(u for u in User.objects.order_by("pk") if u.has_role("operator"))
approved_photo(learner, portrait("obama.jpg"), reviewer=operator)
RegionProfile.objects.filter(pk=programme.profile_id).update(
    verification_interval_minutes=1, face_max_failures=2, exam_face_failure_action="end")
"""
)

ANSWERS = """
from safetrain.accounts.models import User, id_index_of
from safetrain.assessment.models import ExamAnswer, ExamAttempt
attempt = ExamAttempt.objects.get(enrolment__learner__id_index=id_index_of("{username}"))
print(attempt.submitted_by, ExamAnswer.objects.filter(attempt=attempt).count())
"""


@pytest.fixture(scope="module")
def exam_server(tmp_path_factory):
    server = start_demo_server(
        tmp_path_factory.mktemp("exam-face-demo"),
        FACE_CHECK_AT_EXAM="true",
        FACE_CHALLENGES="turn",  # what a clip made of photos can show: a head turn (two angles of one face)
    )
    yield server
    server.process.terminate()
    server.process.wait(timeout=20)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from safetrain.proctoring.tests.camera import TURN, y4m_clip

    folder = tmp_path_factory.mktemp("exam-camera")
    return {
        "a": y4m_clip(TURN, folder / "a-turning.y4m"),
        "b": y4m_clip(("biden2.jpg", "biden.jpg", "biden2.jpg", "biden.jpg"), folder / "b.y4m"),
    }


def learner(server, index: int) -> dict:
    return [a for a in server.accounts if a["role"] == "learner"][index]


def option(page, number: int):
    return page.locator("[data-question]").nth(number).locator("input").first


# Records each step the face panel goes through, with the instruction shown at that moment (FACE-02).
WATCH_PHASES = """() => {
  const panel = document.querySelector("[data-face-check]");
  window.facePhases = [];
  new MutationObserver(() => {
    const instruction = panel.querySelector("[data-testid=face-instruction]").textContent;
    const last = window.facePhases[window.facePhases.length - 1];
    if (!last || last[0] !== panel.dataset.phase) window.facePhases.push([panel.dataset.phase, instruction]);
  }).observe(panel, { attributes: true, attributeFilter: ["data-phase"] });
}"""


def start_exam(page, url: str) -> None:
    """The start page: one button, the face check's; its countdown comes before the capture; once it has passed
    the exam's own start button appears in its place."""
    page.goto(f"{url}/assessment/exams/tj-ce-16h/start/")
    expect(page.get_by_test_id("face-rule")).to_be_visible()
    start = page.get_by_test_id("start-button")
    expect(start).to_be_disabled()
    expect(start).to_be_hidden()
    face_start = page.get_by_test_id("face-start")
    expect(face_start).to_have_text("开始人脸核验")
    page.evaluate(WATCH_PHASES)
    face_start.click()
    expect(start).to_be_enabled(timeout=90_000)
    expect(start).to_have_text("开始考试")
    expect(face_start).to_be_hidden()
    phases = page.evaluate("() => window.facePhases")
    steps = [phase for phase, _instruction in phases]
    assert steps == ["countdown-3", "countdown-2", "countdown-1", "capturing", "checking", "passed"], phases
    assert all(instruction for phase, instruction in phases if phase != "passed"), phases
    start.click()
    expect(page.locator("[data-question]")).to_have_count(70, timeout=90_000)


def test_face_01_a_check_during_the_exam_appears_and_passes_while_the_exam_goes_on(
    exam_server, clips, playwright_session
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    account = learner(exam_server, 0)
    manage(exam_server.env, "shell", "-c", SETUP.format(username=account["username"]))
    browser = launch_with_camera(playwright_session, clips["a"])
    try:
        page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
        url = exam_server.url
        first_sign_in(page, url, account, NEW_PASSWORD)
        start_exam(page, url)
        exam = page.locator("[data-exam]")
        panel = page.get_by_test_id("face-check")
        expect(panel).to_be_hidden()
        option(page, 0).check()
        expect(exam).to_have_attribute("data-saved", "true", timeout=90_000)

        # At a random moment within the profile's interval the check falls due: the camera panel opens.
        expect(exam).to_have_attribute("data-face-due", "true", timeout=120_000)
        expect(panel).to_be_visible()
        expect(page.get_by_test_id("face-notice")).to_contain_text("身份核验")
        page.screenshot(path=str(SHOTS / "exam-face-check-due.png"))
        # Answering and the countdown go on while the panel is shown.
        countdown = page.get_by_test_id("countdown")
        shown = countdown.text_content()
        option(page, 1).check()
        expect(exam).to_have_attribute("data-saved", "true", timeout=90_000)
        expect(page.locator(".exam-nav a.answered")).to_have_count(2)
        expect(countdown).not_to_have_text(shown or "", timeout=10_000)
        # The paper cannot be submitted before the check is passed.
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("submit-paper").click()
        expect(page.get_by_test_id("save-state")).to_contain_text("请先通过身份核验")
        expect(exam).to_be_visible()

        page.get_by_test_id("face-start").click()
        expect(exam).to_have_attribute("data-face-due", "false", timeout=90_000)
        expect(panel).to_be_hidden()
        expect(page.get_by_test_id("face-notice")).to_contain_text("核验通过")

        page.get_by_test_id("submit-paper").click()
        expect(page.get_by_test_id("exam-result")).to_be_visible(timeout=90_000)
        expect(page.get_by_test_id("face-ended")).to_have_count(0)
    finally:
        browser.close()


def test_face_01_someone_else_taking_over_the_exam_fails_the_check_and_the_attempt_ends_with_answers_kept(
    exam_server, clips, playwright_session
):
    account = learner(exam_server, 1)
    manage(exam_server.env, "shell", "-c", SETUP.format(username=account["username"]))
    url = exam_server.url
    enrolled = launch_with_camera(playwright_session, clips["a"])
    stand_in = launch_with_camera(playwright_session, clips["b"])
    try:
        # The enrolled learner signs in, passes the check at the start and answers three questions ...
        context = enrolled.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        first_sign_in(page, url, account, NEW_PASSWORD)
        start_exam(page, url)
        for number in range(3):
            option(page, number).check()
        expect(page.locator("[data-exam]")).to_have_attribute("data-saved", "true", timeout=90_000)
        attempt_url = page.url
        cookies = context.cookies()
        page.close()

        # ... and someone else goes on in the same signed-in browser session.
        other = stand_in.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        other.add_cookies(cookies)
        page = other.new_page()
        page.goto(attempt_url)
        exam = page.locator("[data-exam]")
        expect(exam).to_have_attribute("data-face-due", "true", timeout=120_000)
        status = page.get_by_test_id("face-status")
        page.get_by_test_id("face-start").click()
        expect(status).to_contain_text("不符", timeout=90_000)
        expect(status).to_contain_text("还可尝试 1 次")
        page.screenshot(path=str(SHOTS / "exam-face-check-refused.png"))
        page.get_by_test_id("face-start").click()  # the profile's second failure ends the attempt
        expect(page.get_by_test_id("exam-result")).to_be_visible(timeout=90_000)
        expect(page.get_by_test_id("face-ended")).to_contain_text("身份核验未通过")
        expect(page.get_by_test_id("verdict")).to_contain_text("未通过")
        # The three answers saved before are kept in the attempt (and scored).
        out = manage(exam_server.env, "shell", "-c", ANSWERS.format(username=account["username"]))
        assert out.strip().splitlines()[-1].split() == ["face_check", "3"]
    finally:
        enrolled.close()
        stand_in.close()
