"""ORG-01..03: regions from the official data package, organisation kinds and their rules."""

from __future__ import annotations

import pytest

from conftest import make_org
from safetrain.core.errors import DomainError
from safetrain.orgs.models import Industry, Organisation, OrganisationKind, Region
from safetrain.orgs.services import make_uscc, organisation_create, project_status_set, regions_load
from safetrain.records.models import AuditEntry


@pytest.mark.parametrize(
    ("code", "name", "cities", "counties"),
    [("440000", "广东省", 21, 100), ("140000", "山西省", 11, 100), ("120000", "天津市", 1, 16)],
)
def test_org_01_demo_provinces_are_complete_with_official_codes(db, code, name, cities, counties):
    province = Region.objects.get(code=code)
    assert province.name == name
    assert province.level == "province"
    assert Region.objects.filter(parent=province, level="city").count() == cities
    assert Region.objects.filter(path__startswith=province.path, level="county").count() >= counties


def test_org_01_shenzhen_has_all_its_districts_under_guangdong(db):
    shenzhen = Region.objects.get(code="440300")
    assert shenzhen.parent.code == "440000"
    districts = set(Region.objects.filter(parent=shenzhen).values_list("name", flat=True))
    assert {
        "罗湖区",
        "福田区",
        "南山区",
        "宝安区",
        "龙岗区",
        "盐田区",
        "龙华区",
        "坪山区",
        "光明区",
    } <= districts
    assert Region.objects.get(code="440305").full_name == "广东省 深圳市 南山区"


def test_org_01_loading_regions_again_changes_nothing(db):
    before = Region.objects.count()
    assert regions_load() == 0
    assert Region.objects.count() == before >= 3000


def test_org_02_a_project_hangs_under_an_enterprise_and_a_team_under_a_project(db):
    ent = make_org("甲公司", OrganisationKind.ENTERPRISE, "440305", industry=Industry.CONSTRUCTION)
    project = make_org("甲项目", OrganisationKind.PROJECT, "440305", ent)
    team = make_org("甲班组", OrganisationKind.TEAM, "440305", project)
    assert project.project_status == "under_construction"
    assert team.path.startswith(project.path)
    assert project.path.startswith(ent.path)
    assert set(Organisation.objects.subtree_of(ent)) == {ent, project, team}
    with pytest.raises(DomainError) as err:
        make_org("孤立项目", OrganisationKind.PROJECT, "440305")
    assert err.value.field == "parent"
    with pytest.raises(DomainError):
        make_org(
            "错挂班组",
            OrganisationKind.TEAM,
            "440305",
            make_org("机构", OrganisationKind.INSTITUTION, "440305"),
        )


def test_org_02_a_project_can_be_marked_accepted_and_it_is_audited(db):
    ent = make_org("乙公司", OrganisationKind.ENTERPRISE, "440305")
    project = make_org("乙项目", OrganisationKind.PROJECT, "440305", ent)
    project_status_set(project=project, status="accepted")
    project.refresh_from_db()
    assert project.project_status == "accepted"
    assert AuditEntry.objects.filter(action="org.project_status", object_id=str(project.pk)).exists()
    with pytest.raises(DomainError):
        project_status_set(project=project, status="flying")


def test_org_03_high_risk_follows_the_industry_unless_set(db):
    assert make_org(
        "化工", OrganisationKind.ENTERPRISE, "440305", industry=Industry.HAZARDOUS_CHEMICALS
    ).is_high_risk
    assert not make_org("商贸", OrganisationKind.ENTERPRISE, "440305", industry=Industry.OTHER).is_high_risk
    assert make_org(
        "特批", OrganisationKind.ENTERPRISE, "440305", industry=Industry.OTHER, is_high_risk=True
    ).is_high_risk


def test_org_03_an_invalid_or_duplicate_credit_code_is_refused_and_nothing_is_created(db):
    region = Region.objects.get(code="440305")
    good = make_uscc("440305", 77)
    organisation_create(name="丙公司", kind=OrganisationKind.ENTERPRISE, region=region, uscc=good.lower())
    before = Organisation.objects.count()
    with pytest.raises(DomainError) as err:
        organisation_create(
            name="丁公司", kind=OrganisationKind.ENTERPRISE, region=region, uscc=good[:-1] + "0"
        )
    assert err.value.code == "invalid_uscc"
    with pytest.raises(DomainError) as err:
        organisation_create(name="戊公司", kind=OrganisationKind.ENTERPRISE, region=region, uscc=good)
    assert err.value.code == "duplicate_uscc"
    assert Organisation.objects.count() == before
