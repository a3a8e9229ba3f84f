"""FACE-01..04, ACC-07 in a real Chromium whose camera is a clip made from the test photos (see
../shared/testdata/faces/README.md): the learner uploads the ID photo, the unit's admin approves it in the review
queue (identity binding), the learner passes the check at sign-in, a random
check while studying and the check at the start of an exam through the real pages; someone else in front of the camera is refused and, after the
profile's tries, signed out; a learner without a camera is told what to do and goes no further."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, launch_with_camera, sign_in
from tests.demo_server import start_demo_server

pytestmark = pytest.mark.browser

PLAY = "() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }"
NEW_PASSWORD = "Renlian#2026"


@pytest.fixture(scope="module")
def face_server(tmp_path_factory):
    server = start_demo_server(
        tmp_path_factory.mktemp("face-demo"),
        FACE_CHECK_AT_LOGIN="true",
        FACE_CHECKS_WHILE_STUDYING="true",
        FACE_CHALLENGES="turn",  # what a clip made of photos can show: a head turn (two angles of one face)
        FACE_CHECK_AT_EXAM="true",
    )
    yield server
    server.process.terminate()
    server.process.wait(timeout=20)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from safetrain.proctoring.tests.camera import TURN, y4m_clip

    folder = tmp_path_factory.mktemp("camera")
    return {
        "a": y4m_clip(TURN, folder / "a-turning.y4m"),
        "b": y4m_clip(("biden2.jpg", "biden.jpg", "biden2.jpg", "biden.jpg"), folder / "b.y4m"),
    }


def learners(server) -> list[dict]:
    return [a for a in server.accounts if a["role"] == "learner" and a["organisation"] == "钢筋班组"]


def first_sign_in_with_photo(page, server, account: dict) -> None:
    """Initial password -> new password -> the face check asks for the ID photo first -> upload it -> it waits for
    review (no check yet) -> the unit's admin approves it in the review queue -> the check, with the camera."""
    from safetrain.proctoring.tests.test_reference_photo import portrait

    url = server.url
    sign_in(page, url, account["username"], account["password"])
    page.fill("input[name=old_password]", account["password"])
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("button[type=submit].primary")
    expect(page).to_have_url(f"{url}/proctoring/verify/?next=%2F")
    expect(page.get_by_test_id("photo-needed")).to_be_visible()
    page.get_by_role("link", name="上传本人证件照").click()
    page.get_by_test_id("photo-file").set_input_files(
        files=[{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": portrait("obama.jpg")}]
    )
    page.locator("form button[type=submit].primary").click()
    expect(page.get_by_test_id("photo-hold")).to_contain_text("您的人脸照片正在审核")
    expect(page.get_by_test_id("face-check")).to_have_count(0)
    approve_photo(page.context.browser, server, account["name"])
    page.reload()
    expect(page.get_by_test_id("face-check")).to_be_visible()  # back on the check, now with the camera


def approve_photo(browser, server, name: str) -> None:
    """The company's admin (a unit admin over the learner's team) approves the photo in the review queue."""
    admin = next(a for a in server.accounts if a["organisation"] == "深圳市安建建设集团有限公司")
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, server.url, admin["username"], admin["password"])
        page.goto(f"{server.url}/proctoring/photos/review/")
        item = page.get_by_test_id("photo-review-item").filter(has_text=name)
        expect(item.get_by_test_id("review-photo")).to_be_visible()
        item.get_by_test_id("review-approve").click()
        expect(page.locator("body")).to_contain_text(f"已通过：{name}")
    finally:
        context.close()


def test_face_01_02_the_enrolled_learner_passes_at_sign_in_and_while_studying(
    face_server, clips, playwright_session
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = launch_with_camera(playwright_session, clips["a"])
    try:
        page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
        url = face_server.url
        first_sign_in_with_photo(page, face_server, learners(face_server)[0])
        page.get_by_test_id("face-start").click()
        expect(page).to_have_url(f"{url}/", timeout=90_000)  # passed: on to the desk

        # Study: at a random moment within the video the player stops and asks for a check.
        page.goto(f"{url}/courses/SZ-GEN/")
        page.get_by_test_id("lesson-link").first.click()
        player = page.locator("[data-player]")
        expect(player).to_have_attribute("data-ready", "true", timeout=90_000)
        page.evaluate(PLAY)
        expect(player).to_have_attribute("data-face-due", "true", timeout=90_000)
        expect(page.get_by_test_id("study-notice")).to_contain_text("人脸核验")
        page.wait_for_function("() => document.querySelector('[data-player] video').paused", timeout=90_000)
        credited_before = float(player.get_attribute("data-credited-seconds") or 0)
        page.screenshot(path=str(SHOTS / "face-check-due.png"), full_page=True)
        page.get_by_test_id("face-start").click()
        expect(player).to_have_attribute("data-face-due", "false", timeout=90_000)
        expect(page.get_by_test_id("study-notice")).to_contain_text("核验通过")
        # Crediting goes on after the pass.
        page.evaluate(PLAY)
        page.wait_for_function(
            f"() => Number(document.querySelector('[data-player]').dataset.creditedSeconds) > {credited_before + 2}",
            timeout=90_000,
        )

        # FACE-01 at the exam: the start button opens only after a check on the start page.
        from tests.browser.test_exam import PREPARE
        from tests.demo_server import manage

        manage(face_server.env, "shell", "-c", PREPARE.format(username=learners(face_server)[0]["username"]))
        page.goto(f"{url}/assessment/exams/tj-ce-16h/start/")
        start = page.get_by_test_id("start-button")
        expect(start).to_be_disabled()
        page.get_by_test_id("face-start").click()
        expect(start).to_be_enabled(timeout=90_000)
        start.click()
        expect(page.locator("[data-exam]")).to_be_visible(timeout=90_000)
    finally:
        browser.close()


def test_face_01_03_someone_else_is_refused_and_signed_out_after_the_tries(
    face_server, clips, playwright_session
):
    browser = launch_with_camera(playwright_session, clips["b"])  # B in front of A's account
    try:
        page = browser.new_context(locale="zh-CN").new_page()
        url = face_server.url
        first_sign_in_with_photo(page, face_server, learners(face_server)[1])
        status = page.get_by_test_id("face-status")
        page.get_by_test_id("face-start").click()
        expect(status).to_contain_text("不符", timeout=90_000)
        expect(status).to_contain_text("还可尝试 2 次")
        page.screenshot(path=str(SHOTS / "face-check-refused.png"), full_page=True)
        page.goto(f"{url}/")  # no way round the check
        expect(page).to_have_url(f"{url}/proctoring/verify/?next=%2F")
        page.get_by_test_id("face-start").click()
        expect(status).to_contain_text("还可尝试 1 次", timeout=90_000)
        page.get_by_test_id("face-start").click()  # the profile's third failure
        expect(page).to_have_url(f"{url}/accounts/login/?ended=face_check_failed", timeout=90_000)
        expect(page.locator("body")).to_contain_text("人脸核验")
    finally:
        browser.close()


def test_face_01_without_a_camera_the_learner_is_told_what_to_do(face_server, browser):
    page = browser.new_context(locale="zh-CN").new_page()  # this Chromium has no camera at all
    url = face_server.url
    first_sign_in_with_photo(page, face_server, learners(face_server)[2])
    expect(page.get_by_test_id("face-status")).to_contain_text("摄像头", timeout=90_000)
    page.get_by_test_id("face-start").click()
    expect(page.get_by_test_id("face-status")).to_contain_text("摄像头")
    page.goto(f"{url}/courses/SZ-GEN/")
    expect(page).to_have_url(f"{url}/proctoring/verify/?next=%2Fcourses%2FSZ-GEN%2F")
    page.context.close()
