"""The Chinese admin for operators, and the sign-in housekeeping task."""

from __future__ import annotations

import datetime as dt

import time_machine
from captcha.models import CaptchaStore
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, make_user
from safetrain.accounts.models import AuthSession
from safetrain.accounts.tasks import housekeeping
from safetrain.orgs.models import Organisation, Region
from safetrain.records.models import AuditEntry


def staff_client(world, web_client):
    assert world.operator.is_staff  # granted with the operator role
    return web_client(world.operator)


def test_admin_is_chinese_and_shows_people_masked(world, web_client):
    client = staff_client(world, web_client)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "安训 SafeTrain 运营管理" in index.content.decode()
    people = client.get("/admin/accounts/user/").content.decode()
    assert world.learner_futian.masked_id_number in people
    assert world.learner_futian.id_number not in people


def test_admin_never_edits_the_audit_trail(world, web_client):
    client = staff_client(world, web_client)
    entry = AuditEntry.objects.order_by("seq").first()
    assert client.get("/admin/records/auditentry/").status_code == 200
    assert client.post(f"/admin/records/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_creates_organisations_through_the_service(world, web_client):
    client = staff_client(world, web_client)
    response = client.post(
        "/admin/orgs/organisation/add/",
        {
            "name": "后台新建项目",
            "kind": "project",
            "parent": world.ent_nanshan.pk,
            "region": Region.objects.get(code="440305").pk,
            "uscc": "",
            "industry": "construction",
            "project_status": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Organisation.objects.get(name="后台新建项目")
    assert project.path == f"{world.ent_nanshan.path}{project.pk}/"
    assert project.project_status == "under_construction"
    assert AuditEntry.objects.filter(action="org.create", object_id=str(project.pk)).exists()


def test_admin_is_closed_to_non_staff(world, web_client):
    assert web_client(world.regulator_city).get("/admin/").status_code == 302


def test_housekeeping_ends_idle_sessions_and_drops_expired_captchas(db):
    user = make_user()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post("/accounts/login/", {"username": user.id_number, "password": PASSWORD})
        CaptchaStore.generate_key()
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        result = housekeeping.delay().get()
    assert result["auth_sessions_ended"] == 1
    assert result["sessions_deleted"] == 1
    assert result["captchas_deleted"] == 1
    assert AuthSession.objects.get(user=user).end_reason == "idle"


def test_admin_password_change_goes_through_the_password_rules(world, web_client):
    client = staff_client(world, web_client)
    response = client.get("/admin/password_change/")
    assert response.status_code == 302
    assert response.url == "/accounts/password/"


def test_admin_shows_roles_but_never_edits_them(world, web_client):
    client = staff_client(world, web_client)
    page = client.get(f"/admin/accounts/user/{world.learner_futian.pk}/change/").content.decode()
    assert "福田化工公司" in page
    assert 'name="memberships-TOTAL_FORMS" value="0"' in page or "memberships-0-role" not in page
