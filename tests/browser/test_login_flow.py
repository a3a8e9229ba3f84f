"""In a real Chromium: a demo learner signs in, must change the initial password, sees the dashboard; a second
sign-in elsewhere ends the first session with a notice (ACC-03, ACC-05)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in

pytestmark = pytest.mark.browser


def test_acc_03_acc_05_a_demo_learner_changes_the_initial_password_and_a_second_login_ends_the_first(
    demo_server, browser
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    learner = next(
        a for a in demo_server.accounts if a["role"] == "learner" and a["organisation"] == "木工班组"
    )
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    sign_in(page, demo_server.url, learner["username"], learner["password"])
    expect(page).to_have_url(f"{demo_server.url}/accounts/password/")
    expect(page.get_by_test_id("forced-change")).to_be_visible()
    page.fill("input[name=old_password]", learner["password"])
    page.fill("input[name=new_password1]", "Gongdi#2026")
    page.fill("input[name=new_password2]", "Gongdi#2026")
    page.screenshot(path=str(SHOTS / "password-change.png"), full_page=True)
    page.click("button[type=submit].primary")
    expect(page).to_have_url(f"{demo_server.url}/")
    expect(page.get_by_test_id("learner-card")).to_be_visible()
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)

    desktop = browser.new_context(locale="zh-CN")
    other = desktop.new_page()
    sign_in(other, demo_server.url, learner["username"], "Gongdi#2026")
    expect(other).to_have_url(f"{demo_server.url}/")
    expect(other.get_by_test_id("learner-card")).to_be_visible()

    page.reload()
    expect(page).to_have_url(f"{demo_server.url}/accounts/login/?ended=signed_in_elsewhere&next=%2F")
    expect(page.get_by_test_id("ended")).to_be_visible()
    page.screenshot(path=str(SHOTS / "ended-elsewhere.png"), full_page=True)
    phone.close()
    desktop.close()
