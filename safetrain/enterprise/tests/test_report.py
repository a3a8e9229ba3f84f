"""ENT-05: the project training report (培训通报表) counts exactly as seeds/000 item 16 defines, with the people behind
every number and an Excel export; scoped to the viewer's projects."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from conftest import make_org, make_user, web_client_for
from safetrain.assessment.models import AttemptKind, ExamAttempt, PaperRule
from safetrain.catalog.models import JobType
from safetrain.catalog.tests.factories import published_course, published_programme
from safetrain.enterprise.models import Personnel
from safetrain.enterprise.reports import project_report
from safetrain.learning.models import Enrolment, EnrolmentStatus, LessonProgress
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import video_of
from safetrain.orgs.models import OrganisationKind


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


class Site:
    """A Shenzhen-style programme (general course + the worker's job-type course, an exam) and helpers to put
    people on a project at any stage of their training."""

    def __init__(self, world):
        self.world = world
        self.project = world.project
        self.general = published_course(
            "RPT-GEN", "通用课", video=video_of(60), construction_category="general"
        )
        self.rebar_type = JobType.objects.get(code="GJ")
        self.rebar = published_course(
            "RPT-GJ",
            "钢筋工案例",
            video=video_of(60),
            construction_category="job_type_cases",
            job_types=[self.rebar_type],
        )
        self.programme = published_programme(
            "rpt-sz",
            [self.general, self.rebar],
            profile="shenzhen_construction",
            audience="construction_worker",
            includes_job_type_course=True,
            required_minutes=2,
        )
        self.rule = PaperRule.objects.create(
            programme=self.programme, name="卷", duration_minutes=60, pass_mark=80, attempts=2
        )
        self.names: dict[int, str] = {}

    def person(self, name: str, *, job: str = "GJ", on_site: bool = True, unit=None):
        user = make_user(self.world.team, name=name)
        Personnel.objects.create(
            organisation=unit or self.project,
            user=user,
            job_type=JobType.objects.get(code=job),
            on_site=on_site,
            joined_on=dt.date(2026, 11, 1),
        )
        self.names[user.pk] = name
        return user

    def enrol(self, user, *, job: str = "GJ", unit=None) -> Enrolment:
        return enrolment_create(
            learner=user,
            programme=self.programme,
            organisation=unit or self.project,
            job_type=JobType.objects.get(code=job),
        )

    def enrol_in(self, user, programme) -> Enrolment:
        return enrolment_create(learner=user, programme=programme, organisation=self.project)

    def study(self, enrolment: Enrolment, course, *, seconds: float = 60, complete: bool = True) -> None:
        lesson = course.chapters.first().lessons.first()
        LessonProgress.objects.create(
            enrolment=enrolment,
            lesson=lesson,
            furthest_position=seconds,
            last_position=seconds,
            watched=[[0.0, seconds]],
            credited_seconds=seconds,
            completed_at=timezone.now() if complete else None,
        )

    def exam(self, enrolment: Enrolment, *, score: int, submitted: bool = True, kind: str = AttemptKind.EXAM):
        now = timezone.now()
        number = ExamAttempt.objects.filter(enrolment=enrolment, kind=AttemptKind.EXAM).count() + 1
        ExamAttempt.objects.create(
            enrolment=enrolment,
            rule=self.rule,
            kind=kind,
            number=number if kind == AttemptKind.EXAM else None,
            started_at=now - dt.timedelta(minutes=30),
            deadline=now + dt.timedelta(minutes=30),
            submitted_at=now if submitted else None,
            score=score if submitted else None,
            total=100,
            passed=(score >= 80) if submitted else None,
        )

    def names_of(self, rows) -> set[str]:
        return {self.names[r.person.user_id] for r in rows}


@pytest.fixture
def site(world):
    s = Site(world)
    # Not trained: never enrolled; enrolled but nothing credited; an exam started but never submitted does not
    # make an examined person either.
    s.person("未报名")
    s.enrol(s.person("已报名未学"))
    # Trained only: part of the general course (not complete); and a mock exam, which never counts as an exam.
    partial = s.enrol(s.person("学了一半"))
    s.study(partial, s.general, seconds=30, complete=False)
    s.exam(partial, score=90, kind=AttemptKind.MOCK)
    # Trained, examined, failed: both courses done, the exam failed.
    failed = s.enrol(s.person("考试不合格"))
    s.study(failed, s.general)
    s.study(failed, s.rebar)
    s.exam(failed, score=60)
    # Trained, examined, passed, but the job-type course is not done (the job type was set after the exam):
    # examined, not completed.
    changed = s.enrol(s.person("工种课未学"))
    s.study(changed, s.general)
    s.exam(changed, score=85)
    # Completed: both courses and a passed exam (on the second attempt).
    done = s.enrol(s.person("全部完成"))
    s.study(done, s.general)
    s.study(done, s.rebar)
    s.exam(done, score=70)
    s.exam(done, score=95)
    # Completed as a manager: the general course alone (management posts have no job-type course, S0 7).
    manager = s.enrol(s.person("安全员", job="AQY"), job="AQY")
    s.study(manager, s.general)
    s.exam(manager, score=88)
    # Completed at the previous project: the result holds across the city, so it counts here too.
    elsewhere = make_org("南山二号项目", OrganisationKind.PROJECT, "440305", world.ent_nanshan)
    moved = s.person("上个项目完成")
    moved_enrolment = s.enrol(moved, unit=elsewhere)
    s.study(moved_enrolment, s.general)
    s.study(moved_enrolment, s.rebar)
    s.exam(moved_enrolment, score=90)
    # Not counted: left the site (although completed); study cancelled for confirmed cheating; a void enrolment.
    gone = s.enrol(s.person("已离场", on_site=False))
    s.study(gone, s.general)
    s.study(gone, s.rebar)
    s.exam(gone, score=90)
    cheat = s.enrol(s.person("作弊被取消"))
    LessonProgress.objects.create(
        enrolment=cheat,
        lesson=s.general.chapters.first().lessons.first(),
        credited_seconds=0,
        cancelled_seconds=60,
    )
    void = s.enrol(s.person("报名作废"))
    s.study(void, s.general)
    Enrolment.objects.filter(pk=void.pk).update(status=EnrolmentStatus.VOID)
    # A programme for another audience, completed without an exam, says nothing about site training.
    other = published_programme("rpt-other", [s.general], audience="other", required_minutes=1)
    office = s.enrol_in(s.person("只学了别的项目"), other)
    s.study(office, s.general)
    # Someone at another enterprise's project is not in this report at all.
    s.person("别的项目", unit=world.ent_futian)
    return s


def test_ent_05_every_number_counts_as_the_shenzhen_platform_defines_it(site, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):  # a fixed number of queries, however many people
        report = project_report(site.project)
        counts = report.counts
    assert counts == {"on_site": 11, "trained": 6, "examined": 5, "completed": 3, "untrained": 5}
    assert site.names_of(report.people("trained")) == {
        "学了一半",
        "考试不合格",
        "工种课未学",
        "全部完成",
        "安全员",
        "上个项目完成",
    }
    assert site.names_of(report.people("examined")) == {
        "考试不合格",
        "工种课未学",
        "全部完成",
        "安全员",
        "上个项目完成",
    }
    assert site.names_of(report.people("completed")) == {"全部完成", "安全员", "上个项目完成"}
    assert site.names_of(report.people("untrained")) == {
        "未报名",
        "已报名未学",
        "作弊被取消",
        "报名作废",
        "只学了别的项目",
    }
    assert report.completed_percent == 27


def test_ent_05_an_open_exam_and_a_mock_exam_do_not_make_an_examined_person(site):
    partial = Enrolment.objects.get(learner__in=[u for u, n in site.names.items() if n == "学了一半"])
    site.exam(partial, score=0, submitted=False)
    report = project_report(site.project)
    assert "学了一半" not in site.names_of(report.people("examined"))
    assert "学了一半" in site.names_of(report.people("trained"))


def test_ent_05_the_report_page_links_every_number_to_its_people_and_exports_them(site, world):
    client = web_client_for(world.admin_nanshan)
    page = client.get("/enterprise/report/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "项目培训通报表" in html
    assert f'href="/enterprise/report/{site.project.pk}/completed/" data-col="completed">3<' in html
    assert "别的项目" not in html
    people = client.get(f"/enterprise/report/{site.project.pk}/examined/")
    assert people.status_code == 200
    text = people.content.decode()
    for name in ("考试不合格", "工种课未学", "全部完成", "安全员", "上个项目完成"):
        assert name in text
    assert "学了一半" not in text
    assert "不合格" in text
    export = client.get(f"/enterprise/report/{site.project.pk}/untrained/?format=xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert [c.value for c in sheet[1]][:3] == ["序号", "姓名", "身份证号码"]
    assert {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)} == {
        "未报名",
        "已报名未学",
        "作弊被取消",
        "报名作废",
        "只学了别的项目",
    }
    table = client.get("/enterprise/report/export/")
    sheet = load_workbook(io.BytesIO(table.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == (
        "项目名称",
        "所属企业",
        "在场人数",
        "在场已培训数",
        "在场已考核人数",
        "在场已完成培训人数",
    )
    assert rows[1][:7] == ("南山一号项目", "南山建设公司", 11, 6, 5, 3, "27%")


def test_ent_05_the_report_is_scoped_to_the_viewers_projects(site, world):
    assert client_status(world.admin_futian, f"/enterprise/report/{site.project.pk}/on_site/") == 404
    assert client_status(world.regulator_futian, f"/enterprise/report/{site.project.pk}/on_site/") == 404
    assert client_status(world.regulator_nanshan, f"/enterprise/report/{site.project.pk}/on_site/") == 200
    assert client_status(world.learner_nanshan, "/enterprise/report/") == 403
    assert client_status(world.admin_nanshan, f"/enterprise/report/{site.project.pk}/nonsense/") == 404
    futian = web_client_for(world.admin_futian).get("/enterprise/report/").content.decode()
    assert "南山一号项目" not in futian
    export = web_client_for(world.admin_futian).get("/enterprise/report/export/")
    projects = [
        row[0] for row in load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True)
    ]
    assert "南山一号项目" not in projects
    assert "南山一号项目" in [
        row[0]
        for row in load_workbook(
            io.BytesIO(web_client_for(world.regulator_city).get("/enterprise/report/export/").content)
        ).active.iter_rows(values_only=True)
    ]


def client_status(user, path: str) -> int:
    return web_client_for(user).get(path).status_code
