"""ENT-03, INT-02, CAT-03: the project's people follow the construction real-name system (两制平台), through the HTTP
connector against a reference server of its API on 127.0.0.1 (a real server, not a mock object)."""

from __future__ import annotations

import pytest
from django.utils import translation

from conftest import new_id_number, web_client_for
from safetrain.accounts.identity import initial_password_for
from safetrain.accounts.models import Membership, User, id_index_of
from safetrain.catalog.models import JobCodeMapping, JobType
from safetrain.core.errors import PermissionDenied
from safetrain.enterprise.models import Personnel, RealNameProject, RealNameSync
from safetrain.enterprise.realname_sync import realname_sync
from safetrain.integrations.realname import HttpRealNameConnector, RealNameUnavailable
from safetrain.integrations.tests.realname_server import RealNameData, start

CODE = "SZ2026-0001"


@pytest.fixture(autouse=True)
def chinese():
    """Messages are the admin's: in Chinese, whatever an earlier test activated."""
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def remote(settings):
    data = RealNameData()
    data.projects[CODE] = {"name": "南山一号项目", "workers": []}
    server, url = start(data)
    settings.REALNAME_BASE_URL, settings.REALNAME_API_KEY = url, data.api_key
    yield data
    server.shutdown()


@pytest.fixture
def project(world):
    RealNameProject.objects.create(project=world.project, code=CODE)
    return world.project


def on_site(project) -> dict[str, str]:
    """Name -> job type name of the people on site."""
    return {
        p.user.name: (p.job_type.name if p.job_type else "")
        for p in Personnel.objects.filter(organisation=project, on_site=True).select_related(
            "user", "job_type"
        )
    }


def test_ent_03_the_first_sync_pulls_every_on_duty_person_with_mapped_job_types(world, remote, project):
    a, b, c = new_id_number(), new_id_number(), new_id_number()
    remote.worker(CODE, a, "张三", "020", "钢筋工", phone="13800138001")
    remote.worker(CODE, b, "李四", "999", "特殊工种X")  # a code the mapping table does not know
    remote.worker(CODE, c, "王五", "010", "砌筑工", on_site=False)  # not on duty: not pulled
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert sync.ok, sync.error
    assert sync.first
    assert (sync.joined, sync.left, sync.changed) == (2, 0, 0)
    assert on_site(project) == {"张三": "钢筋工", "李四": ""}
    # New accounts with the initial password, learners of the project (ACC-03).
    zhang = User.objects.get(id_index=id_index_of(a))
    assert zhang.check_password(initial_password_for(a))
    assert zhang.must_change_password
    assert Membership.objects.filter(
        user=zhang, organisation=project, role="learner", is_active=True
    ).exists()
    # The unknown code is listed for the admin and recorded, unmapped, for an operator to map (CAT-03).
    assert sync.report["unmapped"] == [{"code": "999", "name": "特殊工种X"}]
    assert JobCodeMapping.objects.filter(
        source="jzgr603", external_code="999", job_type__isnull=True
    ).exists()
    assert (sync.remote_on_site, sync.local_on_site, sync.counts_match) == (2, 2, True)


def test_ent_03_a_manual_sync_applies_joins_leaves_and_changes_and_never_touches_teams(
    world, remote, project
):
    a, b, c, d = (new_id_number() for _ in range(4))
    remote.worker(CODE, a, "张三", "020", "钢筋工")
    remote.worker(CODE, b, "李四", "010", "砌筑工")
    remote.worker(CODE, c, "王五", "030", "架子工")
    assert realname_sync(project=project, actor=world.admin_nanshan).ok
    # Here: the admin puts 李四 in a team and fixes 王五's job type by hand.
    li = User.objects.get(id_index=id_index_of(b))
    Membership.objects.create(user=li, organisation=world.team, role="learner")
    wang = Personnel.objects.get(organisation=project, user__id_index=id_index_of(c))
    wang.job_type = JobType.objects.get(name="混凝土工")
    wang.save()
    # There: 张三 leaves, 李四 changes job, 王五 stays as he was, 赵六 joins.
    workers = remote.projects[CODE]["workers"]
    workers[0]["on_site"] = False
    workers[1]["job_code"], workers[1]["job_name"] = "040", "混凝土工"
    remote.worker(CODE, d, "赵六", "010", "砌筑工")
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert sync.ok, sync.error
    assert not sync.first
    assert (sync.joined, sync.left, sync.changed, sync.unchanged) == (1, 1, 1, 1)
    assert sync.report["joined"] == ["赵六"]
    assert sync.report["left"] == ["张三"]
    assert sync.report["changed"] == ["李四"]
    assert on_site(project) == {"李四": "混凝土工", "王五": "混凝土工", "赵六": "砌筑工"}  # 王五's fix kept
    assert Membership.objects.filter(
        user=li, organisation=world.team, is_active=True
    ).exists()  # team untouched
    zhang = Personnel.objects.get(organisation=project, user__id_index=id_index_of(a))
    assert not zhang.on_site
    assert zhang.left_on is not None
    # 王五 disappears from the list altogether: he left too; syncing again without changes changes nothing.
    del workers[2]
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert sync.report["left"] == ["王五"]
    again = realname_sync(project=project, actor=world.admin_nanshan)
    assert (again.joined, again.left, again.changed, again.unchanged) == (0, 0, 0, 2)


def test_ent_03_a_sync_failing_half_way_changes_nothing_and_says_why(world, remote, project, monkeypatch):
    monkeypatch.setattr("safetrain.integrations.realname.PAGE_SIZE", 2)
    for name in ("甲", "乙", "丙", "丁", "戊"):
        remote.worker(CODE, new_id_number(), name, "020", "钢筋工")
    remote.fail_on_page = 2
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert not sync.ok
    assert sync.error == "实名制平台返回错误（HTTP 500），未做任何更改，请稍后重试。"
    assert Personnel.objects.filter(organisation=project).count() == 0
    assert any("page=2" in r for r in remote.requests)
    # The system answers again: the whole list (three pages) arrives.
    remote.fail_on_page = None
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert sync.ok
    assert sync.first  # the failed try did not count as the first sync
    assert sync.joined == 5


def test_ent_03_a_database_failure_half_way_rolls_every_change_back(world, remote, project, monkeypatch):
    remote.worker(CODE, new_id_number(), "张三", "020", "钢筋工")
    remote.worker(CODE, new_id_number(), "李四", "020", "钢筋工")
    from django.db import DatabaseError

    from safetrain.enterprise import realname_sync as sync_module

    real_create = Personnel.objects.create
    calls = []

    def second_fails(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise DatabaseError("disk full")
        return real_create(**kwargs)

    monkeypatch.setattr(sync_module.Personnel.objects, "create", second_fails)
    users = User.objects.count()
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert not sync.ok
    assert sync.error == "同步结果无法保存（DatabaseError），未做任何更改，请重试。"
    assert Personnel.objects.filter(organisation=project).count() == 0
    assert User.objects.count() == users  # the first person's new account was rolled back too


def test_ent_03_the_head_counts_are_compared_and_a_mismatch_names_the_people(world, remote, project):
    remote.worker(CODE, new_id_number(), "张三", "020", "钢筋工")
    remote.worker(CODE, "440305199001011234", "坏号码", "020", "钢筋工")  # a wrong check digit there
    remote.projects[CODE]["on_site_count"] = 3  # and a count that does not match its own list
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert sync.ok
    assert (sync.remote_on_site, sync.local_on_site, sync.counts_match) == (3, 1, False)
    assert sync.report["only_there"] == ["坏号码"]
    assert sync.report["refused"][0]["name"] == "坏号码"
    assert "校验位" in sync.report["refused"][0]["reason"]


def test_int_02_the_connector_says_what_went_wrong(world, remote, project, settings):
    settings.REALNAME_API_KEY = "stolen"
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert not sync.ok
    assert sync.error == "实名制平台拒绝了本平台的接口凭据，请联系平台运营人员。"
    connector = HttpRealNameConnector(settings.REALNAME_BASE_URL, remote.api_key)
    with pytest.raises(RealNameUnavailable, match="实名制平台中没有该项目编码"):
        connector.project("NO-SUCH")
    settings.REALNAME_BASE_URL = "http://127.0.0.1:9"  # nobody listens there
    sync = realname_sync(project=project, actor=world.admin_nanshan)
    assert not sync.ok
    assert sync.error == "无法连接实名制平台（ConnectError），未做任何更改，请稍后重试。"
    assert Personnel.objects.filter(organisation=project).count() == 0


def test_ent_03_only_the_projects_own_admins_sync_it(world, remote, project):
    with pytest.raises(PermissionDenied):
        realname_sync(project=project, actor=world.admin_futian)


def test_ent_03_the_sync_page_runs_the_first_sync_and_the_manual_one(
    world, remote, project, django_capture_on_commit_callbacks
):
    """Syncs run in the background (Celery, eager here: after the commit); the page shows one running and then
    its result; a second start while one runs starts nothing."""
    remote.worker(CODE, new_id_number(), "张三", "020", "钢筋工")
    client = web_client_for(world.admin_nanshan)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page = client.get("/enterprise/realname/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "实名制同步" in text
    assert 'data-testid="realname-running"' in text  # the first visit started the first sync
    assert client.post(f"/enterprise/realname/{project.pk}/sync/").status_code == 302  # running: nothing new
    assert len(queued) == 1
    queued[0]()  # the worker runs it
    text = client.get("/enterprise/realname/").content.decode()
    assert "张三" in text  # the first sync pulled the on-duty people
    assert 'data-testid="realname-running"' not in text
    assert RealNameSync.objects.filter(project=project, first=True, ok=True).count() == 1
    remote.worker(CODE, new_id_number(), "李四", "010", "砌筑工")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/enterprise/realname/{project.pk}/sync/", follow=True)
    assert response.status_code == 200
    text = client.get("/enterprise/realname/").content.decode()
    assert "李四" in text
    assert RealNameSync.objects.filter(project=project, ok=True).count() == 2
    assert client.get("/enterprise/realname/").content.decode().count("手动同步") >= 1
