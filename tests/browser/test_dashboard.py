"""REG-01 in a real Chromium against the demo server: the Shenzhen regulator's dashboard shows its figures and
ECharts draws every chart without a script error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in

pytestmark = pytest.mark.browser


def test_reg_01_the_dashboard_draws_its_charts(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    regulator = next(a for a in demo_server.accounts if a["organisation"] == "深圳市应急管理局")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, demo_server.url, regulator["username"], regulator["password"])
    page.goto(f"{demo_server.url}/regulator/dashboard/")
    expect(page.locator("[data-kpi=registered]")).not_to_have_text("0")
    for name in ("months", "industries", "ages", "sexes"):
        expect(page.locator(f'[data-chart="{name}"]')).to_have_attribute("data-drawn", "true")
        expect(page.locator(f'[data-chart="{name}"] canvas')).to_have_count(1)
    expect(page.get_by_test_id("by-region")).to_contain_text("南山区")
    page.screenshot(path=str(SHOTS / "regulator-dashboard.png"), full_page=True)
    # The period is picked in months; the figures narrow and the choice stays in the picker.
    page.locator("input[name=start]").fill("2020-01")
    page.locator("input[name=end]").fill("2020-12")
    page.get_by_test_id("statistics-filters").get_by_role("button").click()
    expect(page.locator("[data-kpi=enrolled]")).to_have_text("0")
    expect(page.locator("input[name=start]")).to_have_value("2020-01")
    assert errors == []
    context.close()
