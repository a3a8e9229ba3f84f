"""REG-01, REG-02: the regulator's statistics and learner search, scoped to its region and checked against hand
counts; filters by period, age band (from the ID number), sex, unit, industry and region; Excel export."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from conftest import make_user, new_id_number, web_client_for
from safetrain.accounts.models import AuthSession
from safetrain.assessment.models import ExamAttempt, PaperRule
from safetrain.catalog.tests.factories import published_programme
from safetrain.certification.models import Certificate
from safetrain.learning.services import enrolment_create
from safetrain.regulator import statistics
from safetrain.regulator.statistics import Filters


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def region(world, django_capture_on_commit_callbacks):
    """南山: 南山学员 and 班组学员 (born 1990), 老工人 (born 1960, a woman); 福田: 福田学员. Enrolments, exams and a
    certificate on known dates. The statistics cube is recounted as each change commits (here: at the end)."""
    with django_capture_on_commit_callbacks(execute=True):
        return _region(world)


def _region(world):
    from safetrain.catalog.tests.factories import published_course
    from safetrain.learning.tests.conftest import video_of

    programme = published_programme("st-p", [published_course("ST-C", "统计课程", video=video_of(60))])
    rule = PaperRule.objects.create(
        programme=programme, name="卷", duration_minutes=60, pass_mark=80, attempts=2
    )
    old = make_user(world.ent_nanshan, name="老工人", id_number=new_id_number("440305", dt.date(1960, 1, 1)))
    # The 17th digit is the sex: odd a man, even a woman. Make this one a woman whatever the sequence gave.
    number = old.id_number
    if int(number[16]) % 2:
        from safetrain.accounts.identity import make_resident_id

        old.delete()
        old = make_user(
            world.ent_nanshan, name="老工人", id_number=make_resident_id("440305", dt.date(1960, 1, 1), 200)
        )
    opened = {"nanshan": dt.date(2026, 11, 15), "old": dt.date(2026, 10, 1), "futian": dt.date(2026, 11, 20)}
    e_ns = enrolment_create(
        learner=world.learner_nanshan,
        programme=programme,
        organisation=world.ent_nanshan,
        opened_on=opened["nanshan"],
    )
    e_old = enrolment_create(
        learner=old, programme=programme, organisation=world.ent_nanshan, opened_on=opened["old"]
    )
    enrolment_create(
        learner=world.learner_futian,
        programme=programme,
        organisation=world.ent_futian,
        opened_on=opened["futian"],
    )
    when = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    for enrolment, passed in [(e_ns, True), (e_old, False)]:
        ExamAttempt.objects.create(
            enrolment=enrolment,
            rule=rule,
            number=1,
            started_at=when,
            deadline=when,
            submitted_at=when,
            score=Decimal(90 if passed else 50),
            total=Decimal(100),
            passed=passed,
        )
    Certificate.objects.create(
        number="ST26STATS0001",
        kind="certificate",
        enrolment=e_ns,
        learner=world.learner_nanshan,
        programme=programme,
        holder_name="南山学员",
        holder_id_masked="x",
        programme_name=programme.name,
        category="c",
        class_hours=Decimal(1),
        issuer="安训",
        issued_on=dt.date(2026, 11, 26),
    )
    AuthSession.objects.create(user=world.learner_team, kind="web", key_digest="a" * 64)  # online now
    AuthSession.objects.create(
        user=world.learner_nanshan,
        kind="web",
        key_digest="b" * 64,
        last_seen_at=timezone.now() - dt.timedelta(hours=1),
    )
    return old


def test_reg_01_a_districts_figures_match_a_hand_count(world, region):
    board = statistics.dashboard(world.regulator_nanshan, Filters())
    assert (board.registered, board.online, board.enrolled, board.completed) == (3, 1, 2, 1)
    assert (board.exams, board.exams_passed, board.pass_rate) == (2, 1, 50.0)
    assert (board.certificates, board.revoked) == (1, 0)
    assert board.by_month == [("2026-10", 1), ("2026-11", 1)]
    assert dict(board.by_age)["60plus"] == 1
    assert dict(board.by_age)["30to39"] == 2
    city = statistics.dashboard(world.regulator_city, Filters())
    assert (city.registered, city.enrolled) == (4, 3)
    assert {r["region"].code: r["learners"] for r in city.by_region} == {"440305": 3, "440304": 1}
    futian = statistics.dashboard(world.regulator_futian, Filters())
    assert (futian.registered, futian.enrolled, futian.exams) == (1, 1, 0)


def test_reg_01_filters_narrow_every_figure(world, region):
    r = world.regulator_nanshan
    assert statistics.dashboard(r, Filters(start=dt.date(2026, 11, 1))).enrolled == 1
    assert statistics.dashboard(r, Filters(end=dt.date(2026, 10, 31))).enrolled == 1
    assert statistics.dashboard(r, Filters(start=dt.date(2026, 12, 1))).exams == 0
    old = statistics.dashboard(r, Filters(age_band="60plus"))
    assert (old.registered, old.enrolled, old.exams, old.exams_passed) == (1, 1, 1, 0)
    assert statistics.dashboard(r, Filters(sex=region.sex)).registered == 1 + sum(
        u.sex == region.sex for u in (world.learner_nanshan, world.learner_team)
    )
    assert statistics.dashboard(r, Filters(unit=world.project)).registered == 1  # the team's learner
    assert statistics.dashboard(world.regulator_city, Filters(industry="hazardous_chemicals")).registered == 1
    from safetrain.orgs.models import Region

    assert (
        statistics.dashboard(
            world.regulator_city, Filters(region=Region.objects.get(code="440304"))
        ).registered
        == 1
    )
    # A unit outside the regulator's region gives nothing, never another region's figures.
    assert statistics.dashboard(world.regulator_futian, Filters(unit=world.ent_nanshan)).registered == 0


def test_reg_02_learners_are_found_by_exact_name_and_filters_within_scope(world, region):
    assert list(statistics.learner_search(world.regulator_nanshan, Filters(), name="老 工人")) == [region]
    assert list(statistics.learner_search(world.regulator_futian, Filters(), name="老工人")) == []
    assert list(statistics.learner_search(world.regulator_city, Filters(age_band="60plus"))) == [region]
    assert set(
        statistics.learner_search(world.regulator_city, Filters(), id_number=world.learner_futian.id_number)
    ) == {world.learner_futian}


def test_reg_01_the_pages_draw_the_charts_and_export(world, region):
    client = web_client_for(world.regulator_nanshan)
    page = client.get("/regulator/dashboard/").content.decode()
    assert 'data-kpi="registered">3<' in page
    assert 'id="chart-data"' in page
    assert "echarts.min.js" in page
    filtered = client.get("/regulator/dashboard/?age_band=60plus").content.decode()
    assert 'data-kpi="registered">1<' in filtered
    export = client.get("/regulator/dashboard/?format=xlsx")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "注册学员"
    assert rows[1][:3] == (3, 1, 2)
    search = client.get("/regulator/learners/?name=老工人").content.decode()
    assert "老工人" in search
    assert web_client_for(world.learner_nanshan).get("/regulator/dashboard/").status_code == 403
    assert web_client_for(world.admin_nanshan).get("/regulator/learners/").status_code == 403


def test_reg_01_a_filter_outside_the_region_shows_an_error_not_unfiltered_figures(world, region):
    from safetrain.orgs.models import Region

    client = web_client_for(world.regulator_nanshan)
    page = client.get(f"/regulator/dashboard/?region={Region.objects.get(code='440304').pk}&sex=M")
    assert page.status_code == 400
    text = page.content.decode()
    assert 'data-testid="filter-errors"' in text
    assert 'data-testid="kpis"' not in text
    assert client.get("/regulator/dashboard/?start=garbage").status_code == 400
    # A district regulator is at the bottom level: its rows are its own district's units.
    board = statistics.dashboard(world.regulator_nanshan, Filters())
    assert {r["name"] for r in board.by_region} == {"南山建设公司"}


def test_reg_01_the_period_is_chosen_in_whole_months(world, region):
    client = web_client_for(world.regulator_nanshan)
    november = client.get("/regulator/dashboard/?start=2026-11&end=2026-11").content.decode()
    assert 'data-kpi="enrolled">1<' in november  # 南山学员 opened 15 November; 老工人 in October
    assert 'value="2026-11"' in november  # the month picker keeps the choice
    # A full date stands for its month.
    assert 'data-kpi="enrolled">1<' in client.get("/regulator/dashboard/?start=2026-11-20").content.decode()
    swapped = client.get("/regulator/dashboard/?start=2026-11&end=2026-10")
    assert swapped.status_code == 400
    assert "截止月份早于起始月份" in swapped.content.decode()
    wrong = client.get("/regulator/dashboard/?start=11/2026")
    assert wrong.status_code == 400
    assert "例如 2026-11" in wrong.content.decode()


def test_reg_01_a_region_row_drills_down_and_a_unit_row_opens_its_learners(world, region):
    from safetrain.orgs.models import Region

    client = web_client_for(world.regulator_city)
    nanshan, futian = Region.objects.get(code="440305"), Region.objects.get(code="440304")
    page = client.get("/regulator/dashboard/").content.decode()
    # The city's districts, each a link to its own figures (no longer a learner search).
    assert f'href="?region={futian.pk}#by-region"' in page
    assert f'href="/regulator/learners/?region={futian.pk}"' not in page
    district = client.get(f"/regulator/dashboard/?region={nanshan.pk}")
    assert district.status_code == 200
    text = district.content.decode()
    assert 'data-kpi="registered">3<' in text  # the district's figures
    crumbs = re.search(r'data-testid="region-breadcrumb">(.*?)</nav>', text).group(1)
    assert re.findall(r">([^<>›]+)<", crumbs) == ["深圳市", "南山区"]
    assert 'href="?#by-region"' in crumbs  # back up to the city
    # At the bottom: the units, the enterprise counted with its project and team, each opening its learners.
    board = statistics.dashboard(world.regulator_city, Filters(region=nanshan))
    assert [(r["name"], r["learners"], r["enrolled"]) for r in board.by_region] == [("南山建设公司", 3, 2)]
    link = f"/regulator/learners/?unit={world.ent_nanshan.pk}"
    assert f'href="{link}"' in text
    learners = client.get(link).content.decode()
    assert "老工人" in learners
    assert "福田学员" not in learners
    # Other filters are kept while drilling.
    aged = client.get(f"/regulator/dashboard/?age_band=60plus&region={nanshan.pk}").content.decode()
    assert 'data-kpi="registered">1<' in aged
    assert "age_band=60plus" in re.search(r'data-testid="region-breadcrumb">(.*?)</nav>', aged).group(1)


def test_reg_01_the_platform_drills_from_the_provinces_and_a_city_only_within_its_city(world, region):
    from safetrain.orgs.models import Region

    top = statistics.dashboard(world.operator, Filters())
    assert [(r["region"].code, r["learners"]) for r in top.by_region] == [("440000", 4)]
    city = statistics.dashboard(world.operator, Filters(region=Region.objects.get(code="440000")))
    assert [(r["region"].code, r["learners"]) for r in city.by_region] == [("440300", 4)]
    province = Region.objects.get(code="440000")
    refused = web_client_for(world.regulator_city).get(f"/regulator/dashboard/?region={province.pk}")
    assert refused.status_code == 400
    assert 'data-kpi="registered"' not in refused.content.decode()
    futian = Region.objects.get(code="440304")
    assert (
        web_client_for(world.regulator_nanshan).get(f"/regulator/dashboard/?region={futian.pk}").status_code
        == 400
    )


def test_reg_01_the_sex_chart_is_labelled_with_counts_and_the_age_bands_are_whole(world, region):
    page = web_client_for(world.regulator_nanshan).get("/regulator/dashboard/").content.decode()
    charts = json.loads(re.search(r'id="chart-data" type="application/json">(.*?)</script>', page).group(1))
    women = 1 + sum(u.sex == "F" for u in (world.learner_nanshan, world.learner_team))
    assert [d["name"] for d in charts["sexes"]] == [f"男：{3 - women}", f"女：{women}", "未知：0"]
    legend = re.search(r'data-testid="sex-counts">(.*?)</p>', page).group(1)
    assert f"女 {women}" in legend
    assert "未知 0" in legend
    assert [d["name"] for d in charts["ages"]][::4] == ["30岁以下", "60岁及以上"]
