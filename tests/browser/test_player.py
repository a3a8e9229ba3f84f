"""In a real Chromium: an enrolled demo learner plays a lesson video through hls.js and switches quality (CAT-05)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in

pytestmark = pytest.mark.browser


def test_cat_05_a_learner_plays_a_lesson_and_switches_between_fluent_and_hd(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    learner = next(
        a for a in demo_server.accounts if a["role"] == "learner" and a["organisation"] == "钢筋班组"
    )
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, demo_server.url, learner["username"], learner["password"])
    page.fill("input[name=old_password]", learner["password"])
    page.fill("input[name=new_password1]", "Gangjin#2026")
    page.fill("input[name=new_password2]", "Gangjin#2026")
    page.click("button[type=submit].primary")
    expect(page).to_have_url(f"{demo_server.url}/")

    page.goto(f"{demo_server.url}/learn/")
    expect(page.get_by_test_id("programme-card")).to_contain_text("钢筋工典型事故案例")  # own job-type course
    page.goto(f"{demo_server.url}/courses/SZ-GEN/")
    page.get_by_test_id("lesson-link").first.click()
    video = page.get_by_test_id("video")
    expect(video).to_be_visible()
    # Play once the player has attached its stream; a play() that a source (re)load interrupts is tried again,
    # as a user presses play again.
    page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=90_000)
    assert page.evaluate(
        """async () => {
            const v = document.querySelector('video');
            v.muted = true;
            for (let i = 0; i < 5; i++) {
                try { await v.play(); return true; }
                catch (e) { if (e.name !== 'AbortError') throw e; await new Promise(r => setTimeout(r, 300)); }
            }
            return false;
        }"""
    )
    page.wait_for_function("() => document.querySelector('video').currentTime > 1", timeout=90_000)

    page.get_by_test_id("quality").select_option(label="高清 (720p)")
    expect(page.get_by_test_id("current-quality")).to_have_text("高清 (720p)", timeout=90_000)
    page.wait_for_function("() => document.querySelector('video').videoHeight === 720", timeout=90_000)
    page.screenshot(path=str(SHOTS / "player-hd.png"))

    page.get_by_test_id("quality").select_option(label="流畅 (360p)")
    expect(page.get_by_test_id("current-quality")).to_have_text("流畅 (360p)", timeout=90_000)
    page.wait_for_function("() => document.querySelector('video').videoHeight === 360", timeout=90_000)
    assert page.evaluate("() => document.querySelector('video').paused") is False
    assert not page.get_by_test_id("player-error").is_visible()
    assert errors == []
    context.close()
