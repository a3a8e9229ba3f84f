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
    expect(page.get_by_test_id("sex-counts")).to_contain_text("未知")
    page.screenshot(path=str(SHOTS / "regulator-dashboard.png"), full_page=True)
    # Drill-down (REG-01): a click on a district's bar opens that district's figures, its units, a way back up.
    chart = page.locator('[data-chart="regions"]')
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-drawn", "true")
    names = chart.evaluate("""node => JSON.parse(document.getElementById("chart-data").textContent)
        .regions.map(r => r.name)""")
    index = names.index("南山区")
    x, y = chart.evaluate(
        """(node, i) => { const c = echarts.getInstanceByDom(node);
           const value = c.getOption().series[0].data[i];
           return c.convertToPixel({seriesIndex: 0}, [Math.max(value, 0) / 2, i]); }""",
        index,
    )
    box = chart.bounding_box()
    page.mouse.click(box["x"] + max(x, 2), box["y"] + y)
    expect(page.get_by_test_id("region-breadcrumb")).to_contain_text("南山区")
    expect(page.get_by_test_id("region-breadcrumb").get_by_role("link", name="深圳市")).to_be_visible()
    expect(page.locator('[data-drill="unit"]').first).to_be_visible()
    page.get_by_test_id("region-breadcrumb").get_by_role("link", name="深圳市").click()
    expect(page.locator('[data-drill="region"]').first).to_contain_text("南山区")
    expect(page.get_by_test_id("region-breadcrumb").get_by_role("link")).to_have_count(0)
    page.goto(f"{demo_server.url}/regulator/dashboard/")
    # The period is picked in months; the figures narrow and the choice stays in the picker.
    page.locator("input[name=start]").fill("2020-01")
    page.locator("input[name=end]").fill("2020-12")
    page.get_by_test_id("statistics-filters").get_by_role("button").click()
    expect(page.locator("[data-kpi=enrolled]")).to_have_text("0")
    expect(page.locator("input[name=start]")).to_have_value("2020-01")
    assert errors == []
    context.close()
