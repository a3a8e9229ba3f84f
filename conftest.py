"""Shared fixtures: persona organisations and users across two regions (healthchecks' Alice/Bob/Charlie)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from django.test import Client

from safetrain.accounts.identity import make_resident_id
from safetrain.accounts.models import Role, User
from safetrain.accounts.services import user_create
from safetrain.orgs.models import Industry, Organisation, OrganisationKind, Region
from safetrain.orgs.services import make_uscc, organisation_create

PASSWORD = "Good#Pass2026"
_seq = itertools.count(100)


def new_id_number(region: str = "440305", birth: dt.date = dt.date(1990, 5, 17)) -> str:
    return make_resident_id(region, birth, next(_seq))


def make_user(
    organisation: Organisation | None = None,
    role: str = Role.LEARNER,
    *,
    name: str = "测试学员",
    region: str = "440305",
    password: str | None = PASSWORD,
    phone: str = "",
    id_number: str | None = None,
) -> User:
    return user_create(
        id_number=id_number or new_id_number(region),
        name=name,
        organisation=organisation,
        role=role,
        password=password,
        phone=phone,
    )


def make_org(
    name: str, kind: str, region_code: str, parent: Organisation | None = None, **kw
) -> Organisation:
    return organisation_create(
        name=name, kind=kind, region=Region.objects.get(code=region_code), parent=parent, **kw
    )


@dataclass
class World:
    platform: Organisation
    reg_city: Organisation  # 深圳市应急管理局
    reg_nanshan: Organisation  # county
    reg_futian: Organisation  # neighbouring county
    ent_nanshan: Organisation
    project: Organisation
    team: Organisation
    ent_futian: Organisation
    operator: User
    regulator_city: User
    regulator_nanshan: User
    regulator_futian: User
    admin_nanshan: User
    learner_nanshan: User
    learner_team: User
    learner_futian: User
    admin_futian: User


@pytest.fixture
def world(db) -> World:
    platform = make_org("平台", OrganisationKind.PLATFORM, "440106")
    reg_city = make_org("深圳市应急管理局", OrganisationKind.REGULATOR, "440300")
    reg_ns = make_org("南山区应急管理局", OrganisationKind.REGULATOR, "440305", reg_city)
    reg_ft = make_org("福田区应急管理局", OrganisationKind.REGULATOR, "440304", reg_city)
    ent_ns = make_org(
        "南山建设公司",
        OrganisationKind.ENTERPRISE,
        "440305",
        industry=Industry.CONSTRUCTION,
        uscc=make_uscc("440305", 901),
    )
    project = make_org("南山一号项目", OrganisationKind.PROJECT, "440305", ent_ns)
    team = make_org("钢筋班组", OrganisationKind.TEAM, "440305", project)
    ent_ft = make_org(
        "福田化工公司",
        OrganisationKind.ENTERPRISE,
        "440304",
        industry=Industry.HAZARDOUS_CHEMICALS,
        uscc=make_uscc("440304", 902),
    )
    return World(
        platform=platform,
        reg_city=reg_city,
        reg_nanshan=reg_ns,
        reg_futian=reg_ft,
        ent_nanshan=ent_ns,
        project=project,
        team=team,
        ent_futian=ent_ft,
        operator=make_user(platform, Role.OPERATOR, name="运营员"),
        regulator_city=make_user(reg_city, Role.REGULATOR, name="市监管员"),
        regulator_nanshan=make_user(reg_ns, Role.REGULATOR, name="南山监管员"),
        regulator_futian=make_user(reg_ft, Role.REGULATOR, name="福田监管员"),
        admin_nanshan=make_user(ent_ns, Role.ENTERPRISE_ADMIN, name="南山管理员"),
        learner_nanshan=make_user(ent_ns, Role.LEARNER, name="南山学员"),
        learner_team=make_user(team, Role.LEARNER, name="班组学员"),
        learner_futian=make_user(ent_ft, Role.LEARNER, name="福田学员", region="440304"),
        admin_futian=make_user(ent_ft, Role.ENTERPRISE_ADMIN, name="福田管理员", region="440304"),
    )


def web_client_for(user: User) -> Client:
    """A browser-like client signed in through the real login path (single-session bookkeeping included)."""
    client = Client()
    client.force_login(user, backend="safetrain.accounts.backends.IdentityBackend")
    if user.needs_two_factor():
        session = client.session
        # Mark the session as having passed the second factor, as django_otp.login() does.
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def web_client():
    return web_client_for


def api_token_for(client: Client, user: User, password: str = PASSWORD, otp: str = "") -> str:
    body = {"username": user.id_number, "password": password}
    if otp:
        body["otp"] = otp
    response = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


@pytest.fixture
def api_client():
    """A client signed in with a bearer token (staff with two-factor get a TOTP device and a fresh code)."""

    def make(user: User) -> Client:
        client = Client()
        otp = ""
        if user.needs_two_factor():
            from django_otp.oath import totp
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = TOTPDevice.objects.filter(
                user=user, confirmed=True
            ).first() or TOTPDevice.objects.create(user=user, name="api", confirmed=True)
            otp = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
        token = api_token_for(client, user, otp=otp)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Counters kept in the cache (sign-in failures per address, access checks) never leak between tests."""
    from django.core.cache import cache

    cache.clear()
    return
