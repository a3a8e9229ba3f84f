"""Every list and API is scoped: a county regulator sees its county only (Roles: "every query is scoped")."""

from __future__ import annotations

import pytest

from safetrain.accounts.models import User
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log


def names(response) -> set[str]:
    return {p["name"] for p in response.json()}


def test_org_scoping_a_county_regulator_cannot_read_the_neighbouring_countys_learners_via_the_api(
    world, api_client
):
    client = api_client(world.regulator_nanshan)
    listed = client.get("/api/v1/learners")
    assert listed.status_code == 200
    assert {"南山学员", "班组学员", "南山管理员"} <= names(listed)
    assert not {"福田学员", "福田管理员"} & names(listed)
    assert client.get(f"/api/v1/learners/{world.learner_futian.pk}").status_code == 404
    assert client.get(f"/api/v1/learners/{world.learner_nanshan.pk}").status_code == 200
    # Narrowing to the other county's organisation returns nobody rather than its people.
    assert client.get(f"/api/v1/learners?organisation_id={world.ent_futian.pk}").json() == []
    # An exact ID-number search cannot reach across either.
    search = {"id_number": world.learner_futian.id_number}
    assert client.post("/api/v1/learners/search", search, content_type="application/json").json() == []
    own = {"id_number": world.learner_nanshan.id_number}
    assert names(client.post("/api/v1/learners/search", own, content_type="application/json")) == {"南山学员"}
    assert client.get(f"/api/v1/organisations/{world.ent_futian.pk}").status_code == 404
    orgs = {o["name"] for o in client.get("/api/v1/organisations").json()}
    assert "南山建设公司" in orgs
    assert "福田化工公司" not in orgs


def test_org_scoping_a_county_regulator_cannot_read_the_neighbouring_countys_learners_via_pages(
    world, web_client
):
    client = web_client(world.regulator_nanshan)
    page = client.get("/accounts/people/").content.decode()
    assert "南山学员" in page
    assert "班组学员" in page
    assert "福田学员" not in page
    filtered = client.get(f"/accounts/people/?organisation={world.ent_futian.pk}").content.decode()
    assert "福田学员" not in filtered
    searched = client.post(
        "/accounts/people/", {"id_number": world.learner_futian.id_number}
    ).content.decode()
    assert "福田学员" not in searched


def test_org_scoping_the_operation_log_is_scoped_too(world, web_client, api_client):
    audit_log(action="test.futian", actor=world.admin_futian, organisation_id=world.ent_futian.pk)
    audit_log(action="test.nanshan", actor=world.admin_nanshan, organisation_id=world.ent_nanshan.pk)
    actions = {
        e["action"] for e in api_client(world.regulator_nanshan).get("/api/v1/audit?action=test.").json()
    }
    assert actions == {"test.nanshan"}
    page = web_client(world.regulator_nanshan).get("/records/audit/?action=test.").content.decode()
    assert world.admin_nanshan.audit_label() in page  # the page shows labels, not codes: tell them by actor
    assert world.admin_futian.audit_label() not in page
    # The city regulator sees both counties, the operator everything.
    city = {e["action"] for e in api_client(world.regulator_city).get("/api/v1/audit?action=test.").json()}
    assert city == {"test.nanshan", "test.futian"}


def test_org_scoping_a_city_regulator_sees_every_county_of_its_city(world, api_client):
    seen = names(api_client(world.regulator_city).get("/api/v1/learners?limit=500"))
    assert {"南山学员", "福田学员", "班组学员"} <= seen


def test_org_scoping_an_enterprise_admin_sees_its_own_subtree_only(world, api_client):
    client = api_client(world.admin_nanshan)
    seen = names(client.get("/api/v1/learners"))
    assert {"南山学员", "班组学员"} <= seen
    assert "福田学员" not in seen
    assert "南山监管员" not in seen  # a regulator is not the enterprise's person
    assert client.get(f"/api/v1/learners/{world.learner_futian.pk}").status_code == 404


def test_org_scoping_a_learner_sees_only_itself_and_no_operation_log(world, api_client, web_client):
    client = api_client(world.learner_nanshan)
    assert names(client.get("/api/v1/learners")) == {"南山学员"}
    assert client.get(f"/api/v1/learners/{world.learner_team.pk}").status_code == 404
    assert client.get("/api/v1/audit").status_code == 403
    assert web_client(world.learner_nanshan).get("/accounts/people/").status_code == 403
    assert web_client(world.learner_nanshan).get("/records/audit/").status_code == 403


def test_org_scoping_the_operator_sees_everything(world, api_client):
    client = api_client(world.operator)
    assert names(client.get("/api/v1/learners?limit=500")) >= {"南山学员", "福田学员", "市监管员"}
    assert len(client.get("/api/v1/organisations?limit=1000").json()) == Organisation.objects.count()


@pytest.mark.parametrize("persona", ["regulator_nanshan", "admin_nanshan", "learner_nanshan"])
def test_org_scoping_the_queryset_rule_is_the_same_one_for_users(world, persona):
    viewer = getattr(world, persona)
    visible = set(User.objects.visible_to(viewer).values_list("pk", flat=True))
    assert world.learner_futian.pk not in visible
    assert viewer.pk in visible


def test_org_scoping_anonymous_requests_get_nothing(world, client):
    assert client.get("/api/v1/learners").status_code == 401
    assert client.get("/accounts/people/").status_code == 302


def test_org_scoping_a_regulator_never_sees_the_platform_operators_staff_or_their_log(world, api_client):
    """The platform company sits in a region too (Guangzhou); its operators are not the regulator's to see."""
    from conftest import make_org, make_user

    regulator_gd = make_user(
        make_org("广东省应急管理厅", "regulator", "440000"), "regulator", name="省监管员"
    )
    platform_here = make_org("广州平台公司", "platform", "440106")
    operator_here = make_user(platform_here, "operator", name="广州运营员")
    audit_log(action="test.operator_work", actor=operator_here)
    audit_log(action="test.on_a_learner", actor=operator_here, obj=world.learner_futian)
    client = api_client(regulator_gd)
    seen = names(client.get("/api/v1/learners?limit=500"))
    assert "广州运营员" not in seen
    assert "福田学员" in seen
    actions = {e["action"] for e in client.get("/api/v1/audit?action=test.").json()}
    # Work on a Futian learner is filed under the learner's unit, so the province sees it; the operator's
    # own housekeeping is not the regulator's.
    assert actions == {"test.on_a_learner"}


def test_org_scoping_unverified_staff_cannot_use_the_api_with_the_browser_cookie(world):
    from django.test import Client

    from conftest import PASSWORD

    client = Client()
    client.post("/accounts/login/", {"username": world.regulator_nanshan.id_number, "password": PASSWORD})
    response = client.get("/api/v1/learners")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"
    assert client.get("/api/v1/audit").status_code == 403
