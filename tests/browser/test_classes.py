"""ENT-04, ENT-05 in a real Chromium against the demo server: the project's safety officer opens a class, finds the
workers not trained yet, adds one; the worker signs in and studies in the player; the project training report
counts the worker as trained and the drill-down names them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, first_sign_in, sign_in
from tests.browser.test_study import PLAY, open_lesson

pytestmark = pytest.mark.browser

PROJECT = "南山科技园二期项目"


def report_numbers(page, url: str) -> dict[str, int]:
    page.goto(f"{url}/enterprise/report/")
    row = page.locator("[data-testid=training-report] tr", has_text=PROJECT)
    return {
        col: int(row.locator(f"a[data-col={col}]").inner_text())
        for col in ("on_site", "trained", "examined", "completed")
    }


def test_ent_04_ent_05_a_class_from_opening_to_the_report(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = demo_server.url
    officer = next(
        a for a in demo_server.accounts if a["organisation"] == PROJECT and a["role"] == "enterprise_admin"
    )
    workers = [a for a in demo_server.accounts if a["organisation"] == PROJECT and a["role"] == "learner"]
    worker = workers[-1]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, url, officer["username"], officer["password"])

    # The demo project has people at every stage: every column of the report has a number.
    before = report_numbers(page, url)
    assert before["on_site"] >= 15
    assert before["trained"] >= 4
    assert before["examined"] >= 3
    assert before["completed"] >= 2

    # Open a class.
    page.goto(f"{url}/enterprise/classes/")
    form = page.get_by_test_id("class-form")
    form.locator("select[name=unit]").select_option(label=PROJECT)
    form.locator("select[name=programme]").select_option(label="深圳市建筑施工人员安全教育培训")
    form.locator("input[name=name]").fill("入场安全教育第2期")
    form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("入场安全教育第2期")
    expect(page.locator(".messages")).to_contain_text("已开班")

    # Only the workers not trained yet (the general workers, enrolled in nothing).
    page.get_by_test_id("candidate-filters").locator("input[name=untrained]").check()
    page.get_by_test_id("candidate-filters").locator("button[type=submit]").click()
    candidates = page.get_by_test_id("candidates")
    for w in workers:
        expect(candidates).to_contain_text(w["name"])
    expect(candidates.locator("input[name=person]")).to_have_count(len(workers))
    candidates.get_by_label(worker["name"]).check()
    page.get_by_test_id("add-people").click()
    expect(page.locator(".messages")).to_contain_text(f"已加入班级并报名：{worker['name']}")
    members = page.get_by_test_id("class-members")
    expect(members).to_contain_text(worker["name"])
    expect(members).to_contain_text("已报名，未开始学习")
    page.screenshot(path=str(SHOTS / "class-members.png"), full_page=True)

    # The worker signs in on a phone and studies the general course.
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    study = phone.new_page()
    first_sign_in(study, url, worker, "Banji#2026")
    open_lesson(study, url)
    study.evaluate(PLAY)
    study.wait_for_function(
        "() => Number(document.querySelector('[data-player]').dataset.creditedSeconds) >= 4", timeout=90_000
    )
    phone.close()

    # The class shows the progress; the report counts the worker as trained and names them.
    page.reload()
    expect(page.get_by_test_id("class-members")).to_contain_text("已参加培训")
    after = report_numbers(page, url)
    assert after["trained"] == before["trained"] + 1
    assert after["on_site"] == before["on_site"]
    page.locator("[data-testid=training-report] tr", has_text=PROJECT).locator("a[data-col=trained]").click()
    expect(page.locator("h1")).to_have_text(re.compile("在场已培训数"))
    expect(page.get_by_test_id("report-people")).to_contain_text(worker["name"])
    page.get_by_role("link", name=re.compile("在场已完成培训人数")).click()
    done = page.get_by_test_id("report-people")
    expect(done.locator("tbody tr")).to_have_count(after["completed"])
    expect(done).to_contain_text("合格")
    expect(done).not_to_contain_text(worker["name"])
    page.screenshot(path=str(SHOTS / "training-report.png"), full_page=True)
    context.close()
