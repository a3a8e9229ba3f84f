"""Browser tests drive Debian's Chromium through Playwright (no browser download)."""

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
    "--autoplay-policy=no-user-gesture-required",
]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# The tests' own generous waits, never a product's timeout: on a busy 2-core machine a page, a face check or a
# transcoded video can take many times what it takes on an idle one (`make test` runs beside a CPU neighbour).
WAIT_MS = 90_000
expect.set_options(timeout=WAIT_MS)


# Per module, not per session: Playwright's sync API keeps its event loop running in this thread while it is
# open, and Django refuses database work in a thread with a running loop (SynchronousOnlyOperation). With
# pytest-xdist a worker goes on to other test files after a browser module; the loop has to be gone by then.
@pytest.fixture(scope="module")
def playwright_session():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        )
    with sync_playwright() as p:
        yield p


def launch(playwright, *extra_args: str):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args], headless=True)
    new_context = browser.new_context

    def patient_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        return context

    browser.new_context = patient_context
    return browser


def launch_with_camera(playwright, clip: Path):
    """Chromium whose camera shows a Y4M clip (getUserMedia answers without asking, as if allowed)."""
    return launch(
        playwright,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )


@pytest.fixture(scope="module")
def browser(playwright_session):
    browser = launch(playwright_session)
    yield browser
    browser.close()


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")


def first_sign_in(page, url: str, account: dict, new_password: str) -> None:
    """Sign in with the initial password and replace it, as every demo learner must."""
    from playwright.sync_api import expect

    sign_in(page, url, account["username"], account["password"])
    page.fill("input[name=old_password]", account["password"])
    page.fill("input[name=new_password1]", new_password)
    page.fill("input[name=new_password2]", new_password)
    page.click("button[type=submit].primary")
    expect(page).to_have_url(f"{url}/")
