"""In a real Chromium: a demo learner signs in, must change the initial password, sees the dashboard; a second
sign-in elsewhere ends the first session with a notice (ACC-03, ACC-05)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")


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
