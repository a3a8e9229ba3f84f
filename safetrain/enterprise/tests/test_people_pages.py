"""Issue 27, the unit admin's pages: a failed exam reads 不合格 (not the video's 转码失败); the invoice list names the
invoice's due date and shows its form; one definition of “my people” on every people page, sub-units included;
search, paging and bulk leaving; the project report per team."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone, translation

from conftest import make_org, make_user, web_client_for
from safetrain.accounts.models import Role
from safetrain.enterprise import classes, views
from safetrain.enterprise.models import InvoiceRequest, Order, OrderState, Personnel
from safetrain.enterprise.tests.test_applications import Setup
from safetrain.enterprise.tests.test_report import Site
from safetrain.orgs.models import OrganisationKind


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def table(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


def names_in(html: str, testid: str, candidates: set[str]) -> set[str]:
    part = table(html, testid)
    return {name for name in candidates if name in part}


def test_ux_01_a_failed_exam_reads_not_passed_on_the_class_page_and_the_report_drill_down(world):
    site = Site(world)
    failed = site.person("考试不合格")
    passed = site.person("考试合格")
    klass = classes.class_create(
        unit=world.project,
        programme=site.programme,
        name="第1期",
        starts_on=timezone.localdate(),
        actor=world.admin_nanshan,
    )
    classes.class_add(
        training_class=klass,
        person_ids=[p.pk for p in Personnel.objects.filter(user__in=[failed, passed])],
        actor=world.admin_nanshan,
    )
    for user, score in ((failed, 60), (passed, 90)):
        enrolment = user.enrolments.get()
        site.study(enrolment, site.general)
        site.exam(enrolment, score=score)
    client = web_client_for(world.admin_nanshan)
    for url, testid in (
        (f"/enterprise/classes/{klass.pk}/", "class-members"),
        (f"/enterprise/report/{world.project.pk}/examined/", "report-people"),
    ):
        html = client.get(url).content.decode()
        cells = re.findall(r'data-testid="exam-result">([^<]*)<', table(html, testid))
        assert sorted(c.split()[0] for c in cells) == ["不合格", "合格"], url
        assert "转码失败" not in html


def test_enr_03_the_invoice_list_names_the_due_date_and_its_form_is_in_reach(world):
    setup = Setup(world)
    application = setup.apply()
    Order.objects.filter(pk=application.order.pk).update(state=OrderState.PAID)
    request = InvoiceRequest.objects.create(
        order=application.order,
        buyer_name="南山建设公司",
        email="cw@example.cn",
        requested_at=timezone.now(),
        due_on=timezone.localdate() + dt.timedelta(days=7),
    )
    html = web_client_for(setup.staff).get("/enrol/manage/invoices/").content.decode()
    assert "更新期限" not in html
    rows = table(html, "invoice-requests")
    assert "<th>应开票日期</th>" in rows
    assert f'data-testid="invoice-due">{request.due_on:%Y-%m-%d}' in rows
    # A phone-first table of five columns (buyer, taxpayer ID and e-mail in one), the form in the last one.
    assert 'class="cards"' in html
    assert rows.count("<th>") == 5
    assert 'data-testid="invoice-handle"' in rows


@pytest.fixture
def units(world):
    """南山建设公司 (the parent unit) with two projects and a team: people at every level, one who left."""
    site = Site(world)
    site.second = make_org("南山二号项目", OrganisationKind.PROJECT, "440305", world.ent_nanshan)
    site.at_team = site.person("班组工人")  # a member of world.team, staff of world.project
    site.at_project = site.person("项目工人", unit=world.project)
    site.at_project.memberships.update(organisation=world.project)  # in no team
    site.at_second = make_user(site.second, name="二号工人")
    Personnel.objects.create(
        organisation=site.second, user=site.at_second, joined_on=dt.date(2026, 11, 1), on_site=True
    )
    site.gone = site.person("已离场工人", on_site=False)
    site.gone.memberships.update(is_active=False)
    return site


EVERYONE = {
    "班组工人",
    "项目工人",
    "二号工人",
    "已离场工人",
    "南山学员",
    "班组学员",
    "福田学员",
    "福田管理员",
}


def test_ent_01_people_pages_show_the_same_people_of_the_parent_unit_and_its_sub_units(units, world):
    client = web_client_for(world.admin_nanshan)
    # The parent unit opens first and lists its projects' and teams' people.
    people = client.get("/enterprise/people/").content.decode()
    listed = names_in(people, "personnel", EVERYONE)
    assert listed == {"班组工人", "项目工人", "二号工人", "已离场工人", "南山学员", "班组学员"}
    accounts = client.get(f"/accounts/people/?organisation={world.ent_nanshan.pk}").content.decode()
    assert names_in(accounts, "people", EVERYONE) == listed - {"已离场工人"}  # left: no membership any more
    # Everyone in training shows in the summary, from the parent unit down.
    for user in (units.at_team, units.at_project, units.at_second, world.learner_nanshan, world.learner_team):
        units.enrol(user)
    summary = client.get("/enterprise/summary/").content.decode()
    assert names_in(summary, "summary", EVERYONE) == listed - {"已离场工人"}
    # A project shows its own people and its teams' only.
    project = client.get(f"/enterprise/people/?unit={world.project.pk}").content.decode()
    assert names_in(project, "personnel", EVERYONE) == {"班组工人", "项目工人", "已离场工人", "班组学员"}
    project_accounts = client.get(f"/accounts/people/?organisation={world.project.pk}").content.decode()
    assert names_in(project_accounts, "people", EVERYONE) == {"班组工人", "项目工人", "班组学员"}
    # Another enterprise's admin sees none of them.
    other = web_client_for(world.admin_futian).get("/enterprise/people/").content.decode()
    assert not names_in(other, "personnel", EVERYONE) & listed


def test_ent_04_a_class_of_the_parent_unit_can_take_the_people_of_its_projects(units, world):
    klass = classes.class_create(
        unit=world.ent_nanshan,
        programme=units.programme,
        name="公司第1期",
        starts_on=timezone.localdate(),
        actor=world.admin_nanshan,
    )
    candidates = {p.user.name for p in classes.class_candidates(klass)}
    assert candidates == {"班组工人", "项目工人", "二号工人"}
    result = classes.class_add(
        training_class=klass,
        person_ids=[units.at_second.personnel.get().pk],
        actor=world.admin_nanshan,
    )
    assert result.added == ["二号工人"]


def test_ux_01_people_and_summary_search_by_name_and_page(units, world, monkeypatch):
    client = web_client_for(world.admin_nanshan)
    found = client.post("/enterprise/people/", {"name": "项目 工人"}).content.decode()
    assert names_in(found, "personnel", EVERYONE) == {"项目工人"}
    left = client.post("/enterprise/people/", {"name": "已离场工人"}).content.decode()
    assert names_in(left, "personnel", EVERYONE) == {"已离场工人"}
    nobody = client.post("/enterprise/people/", {"name": "无此人"}).content.decode()
    assert "本单位没有这个姓名的人员" in nobody
    # A name is personal data: the search form posts it, and a name in the address is not used.
    assert 'data-testid="people-search"' in found
    assert names_in(client.get("/enterprise/people/?name=无此人").content.decode(), "personnel", EVERYONE)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    everyone = EVERYONE | {"南山管理员"}
    first = names_in(client.get("/enterprise/people/").content.decode(), "personnel", everyone)
    page2 = client.get("/enterprise/people/?page=2").content.decode()
    second = names_in(page2, "personnel", everyone)
    assert len(first) == len(second) == 2
    assert not first & second
    # Seven people of the parent unit (its admin too): four pages of two, the people on site first.
    assert "第2页，共4页" in page2
    assert "已离场工人" in client.get("/enterprise/people/?page=4").content.decode()
    for user in (units.at_team, units.at_project, units.at_second):
        units.enrol(user)
    summary = client.post("/enterprise/summary/", {"name": "二号工人"}).content.decode()
    assert names_in(summary, "summary", EVERYONE) == {"二号工人"}


def test_ent_01_several_people_are_marked_as_left_at_once_within_the_admins_units(units, world):
    mine = [units.at_team.personnel.get(), units.at_second.personnel.get()]
    theirs = Personnel.objects.create(
        organisation=world.ent_futian,
        user=world.learner_futian,
        joined_on=dt.date(2026, 11, 1),
    )
    client = web_client_for(world.admin_nanshan)
    response = client.post(
        "/enterprise/people/leave/",
        {"person": [p.pk for p in mine] + [theirs.pk], "back": f"unit={world.ent_nanshan.pk}"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/enterprise/people/?unit={world.ent_nanshan.pk}"
    # The message says how many, never who: it may travel in a cookie.
    message = re.search(r'<ul class="messages">(.*?)</ul>', response.content.decode(), re.S).group(1)
    assert "已将 2 人标记为离场；账号和全部记录保留。" in message
    for person in mine:
        assert person.user.name not in message
    assert [p.on_site for p in Personnel.objects.filter(pk__in=[p.pk for p in mine])] == [False, False]
    theirs.refresh_from_db()
    assert theirs.on_site
    assert not units.at_team.memberships.filter(is_active=True).exists()
    empty = client.post("/enterprise/people/leave/", {}, follow=True).content.decode()
    assert "请先勾选已离场的人员" in empty


def test_ent_05_the_project_report_gives_each_teams_figures(units, world):
    carpenters = make_org("木工班组", OrganisationKind.TEAM, "440305", world.project)
    make_org("空班组", OrganisationKind.TEAM, "440305", world.project)
    carpenter = units.person("木工")
    carpenter.memberships.update(is_active=False)
    carpenter.memberships.create(organisation=carpenters, role=Role.LEARNER)
    done = units.enrol(units.at_team)
    units.study(done, units.general)
    units.study(done, units.rebar)
    units.exam(done, score=90)
    started = units.enrol(carpenter)
    units.study(started, units.general, seconds=30, complete=False)
    html = (
        web_client_for(world.admin_nanshan)
        .get(f"/enterprise/report/{world.project.pk}/on_site/")
        .content.decode()
    )
    figures = table(html, "team-figures")

    def row(team: str) -> dict[str, int]:
        part = figures[figures.index(f'data-team="{team}"') :]
        part = part[: part.index("</tr>")]
        return {k: int(v) for k, v in re.findall(r'data-col="(\w+)">(\d+)<', part)}

    # 班组工人 completed; 木工 started; 项目工人 (no team) not trained; 已离场工人 is not on site.
    assert row("钢筋班组") == dict(on_site=1, trained=1, completed=1, in_training=0, untrained=0)
    assert row("木工班组") == dict(on_site=1, trained=1, completed=0, in_training=1, untrained=0)
    assert row("空班组") == dict(on_site=0, trained=0, completed=0, in_training=0, untrained=0)
    assert row("") == dict(on_site=1, trained=0, completed=0, in_training=0, untrained=1)
    assert "未分班组" in figures


def test_ux_01_classes_and_enrolment_applications_are_searched_and_paged(world, monkeypatch):
    site = Site(world)
    for name in ("十二月入场教育", "一月入场教育", "消防专题"):
        classes.class_create(
            unit=world.project,
            programme=site.programme,
            name=name,
            starts_on=timezone.localdate(),
            actor=world.admin_nanshan,
        )
    client = web_client_for(world.admin_nanshan)
    found = table(client.get("/enterprise/classes/", {"q": "入场"}).content.decode(), "classes")
    assert "十二月入场教育" in found
    assert "一月入场教育" in found
    assert "消防专题" not in found
    assert "没有这个名称的班级" in client.get("/enterprise/classes/", {"q": "无此班"}).content.decode()
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    assert "第2页，共2页" in client.get("/enterprise/classes/?page=2").content.decode()
    setup = Setup(world)
    application = setup.apply()
    staff = web_client_for(setup.staff)
    by_number = staff.get("/enrol/manage/", {"q": application.order.number}).content.decode()
    assert f"/enrol/manage/{application.pk}/" in table(by_number, "applications")
    by_unit = staff.get("/enrol/manage/", {"q": "南山建设"}).content.decode()
    assert f"/enrol/manage/{application.pk}/" in table(by_unit, "applications")
    other = staff.get("/enrol/manage/", {"q": "福田"}).content.decode()
    assert f"/enrol/manage/{application.pk}/" not in table(other, "applications")
