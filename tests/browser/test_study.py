"""In a real Chromium, against the demo server: study time is credited while playing; seeking ahead is undone;
a hidden page pauses; the lesson resumes where it stopped; a second device takes the session over (LRN-01..03,
ANTI-01, ANTI-03)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, first_sign_in, sign_in

pytestmark = pytest.mark.browser

PLAY = "() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }"


def open_lesson(page, url: str) -> None:
    page.goto(f"{url}/courses/SZ-GEN/")
    page.get_by_test_id("lesson-link").first.click()
    expect(page.locator("[data-player]")).to_have_attribute("data-ready", "true", timeout=90_000)


def test_lrn_01_anti_01_anti_03_study_in_the_browser(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    learner = [a for a in demo_server.accounts if a["role"] == "learner" and a["organisation"] == "钢筋班组"][
        1
    ]
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = phone.new_page()
    first_sign_in(page, demo_server.url, learner, "Xuexi#2026")
    open_lesson(page, demo_server.url)
    page.evaluate(PLAY)
    # Credited by the server from the heartbeats (every 2 s on this test server).
    page.wait_for_function(
        "() => Number(document.querySelector('[data-player]').dataset.creditedSeconds) >= 4", timeout=90_000
    )

    # LRN-02: jumping past the furthest point is undone, with a notice.
    page.evaluate("() => { document.querySelector('video').currentTime = 22; }")
    page.wait_for_function("() => document.querySelector('video').currentTime < 15", timeout=90_000)
    expect(page.get_by_test_id("study-notice")).to_contain_text("不能")

    # ANTI-01: the page going to the background pauses playback and says why.
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_function("() => document.querySelector('video').paused", timeout=90_000)
    expect(page.get_by_test_id("study-notice")).to_contain_text("暂停")
    page.evaluate("() => { delete document.visibilityState; }")
    page.screenshot(path=str(SHOTS / "study-paused.png"), full_page=True)
    position = page.evaluate("() => document.querySelector('video').currentTime")
    page.wait_for_timeout(2500)  # the pause heartbeat and a regular one reach the server

    # LRN-03: opening the lesson again (here: the same phone, a fresh page) resumes where it stopped.
    page.close()
    again = phone.new_page()
    open_lesson(again, demo_server.url)
    again.wait_for_function(
        f"() => document.querySelector('video').currentTime >= {position - 3}", timeout=90_000
    )
    again.evaluate(PLAY)

    # ANTI-03: a second tab takes the study session over; the first stops counting and says so.
    third = phone.new_page()
    open_lesson(third, demo_server.url)
    third.evaluate(PLAY)
    expect(again.locator("[data-player]")).to_have_attribute("data-stopped", "true", timeout=90_000)
    expect(again.get_by_test_id("study-notice")).to_contain_text("其他标签页或设备")
    again.screenshot(path=str(SHOTS / "study-handed-over.png"), full_page=True)

    # ACC-05 + ANTI-03: signing in on a second device ends the phone's session; its player stops with the reason.
    desktop = browser.new_context(locale="zh-CN")
    other = desktop.new_page()
    sign_in(other, demo_server.url, learner["username"], "Xuexi#2026")
    open_lesson(other, demo_server.url)
    expect(third.locator("[data-player]")).to_have_attribute("data-stopped", "true", timeout=90_000)
    expect(third.get_by_test_id("study-notice")).to_contain_text("其他地方登录")
    phone.close()
    desktop.close()


def test_anti_02_no_interaction_for_the_idle_time_signs_the_learner_out(demo_server, browser):
    learner = [a for a in demo_server.accounts if a["role"] == "learner" and a["organisation"] == "钢筋班组"][
        2
    ]
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    first_sign_in(page, demo_server.url, learner, "Idle#2026x")
    page.clock.install()  # the page's timers and Date now follow this clock
    open_lesson(page, demo_server.url)
    page.clock.fast_forward("31:00")  # the Shenzhen profile signs out after 30 idle minutes
    expect(page).to_have_url(f"{demo_server.url}/accounts/login/?ended=idle", timeout=90_000)
    expect(page.get_by_test_id("ended")).to_contain_text("长时间未操作")
    # The server agrees: the session is gone, not only the page.
    page.goto(f"{demo_server.url}/learn/")
    expect(page).to_have_url(f"{demo_server.url}/accounts/login/?next=/learn/")
    context.close()
