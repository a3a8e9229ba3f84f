"""Demo organisations and accounts: regulators per demo city, an institution, a Shenzhen construction enterprise with a project and
two teams, a non-high-risk Guangzhou enterprise, a Taiyuan enterprise, 20 learners and one operator; then the learners
of the walkable flows (the short demo programme, the offline total test), listed last so that the first 20 keep their
places. Idempotent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from safetrain.accounts.identity import initial_password_for, make_resident_id
from safetrain.accounts.models import Role, User, id_index_of
from safetrain.accounts.services import membership_grant, user_create
from safetrain.orgs.models import Industry, Organisation, OrganisationKind, Region
from safetrain.orgs.services import make_uscc, organisation_create, regions_load

STAFF_PASSWORD = "Demo@2026"

# (name, kind, region code, parent key, industry, uscc serial)
ORGANISATIONS = [
    ("platform", "安训平台运营中心", OrganisationKind.PLATFORM, "440106", None, "", 1),
    ("reg_gd", "广东省应急管理厅", OrganisationKind.REGULATOR, "440000", None, "", None),
    ("reg_sz", "深圳市应急管理局", OrganisationKind.REGULATOR, "440300", "reg_gd", "", None),
    ("reg_ns", "深圳市南山区应急管理局", OrganisationKind.REGULATOR, "440305", "reg_sz", "", None),
    ("reg_gz", "广州市应急管理局", OrganisationKind.REGULATOR, "440100", "reg_gd", "", None),
    ("reg_tj", "天津市应急管理局", OrganisationKind.REGULATOR, "120100", None, "", None),
    ("reg_ty", "太原市应急管理局", OrganisationKind.REGULATOR, "140100", None, "", None),
    ("inst", "广州市安全生产培训中心", OrganisationKind.INSTITUTION, "440106", None, "", 2),
    (
        "ent_sz",
        "深圳市安建建设集团有限公司",
        OrganisationKind.ENTERPRISE,
        "440305",
        None,
        Industry.CONSTRUCTION,
        3,
    ),
    ("proj", "南山科技园二期项目", OrganisationKind.PROJECT, "440305", "ent_sz", Industry.CONSTRUCTION, None),
    ("team_a", "钢筋班组", OrganisationKind.TEAM, "440305", "proj", "", None),
    ("team_b", "木工班组", OrganisationKind.TEAM, "440305", "proj", "", None),
    ("ent_gz", "广州市明达商贸有限公司", OrganisationKind.ENTERPRISE, "440106", None, Industry.OTHER, 4),
    # Shanxi (offline total test, EXM-08): the unit whose learner waits for the score of the paper test.
    ("ent_ty", "太原市并州机械制造有限公司", OrganisationKind.ENTERPRISE, "140105", None, Industry.OTHER, 5),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "建国",
    "志强",
    "秀英",
    "海燕",
    "伟",
    "芳",
    "军",
    "丽",
    "强",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
]


# Learners who can walk a whole flow in minutes (key, name, region, birth, sequence, organisation key):
# the short demo programme (catalog.demo.QUICK_PROGRAMME) and the offline total test of Shanxi.
QUICK_LEARNERS = [
    ("quick01", "冯国庆", "440106", dt.date(1988, 10, 1), 201, "ent_gz"),
    ("quick02", "郑晓雯", "440106", dt.date(1990, 3, 12), 202, "ent_gz"),
    ("quick03", "何思远", "440106", dt.date(1995, 6, 18), 203, "ent_gz"),
]
OFFLINE_LEARNERS = [("offline01", "韩立新", "140105", dt.date(1979, 4, 22), 211, "ent_ty")]


def demo_learners() -> list[tuple[str, str, str, dt.date, int, str]]:
    """The 20 learners of the demo's units (key, name, region, birth, sequence, organisation key)."""
    out = []
    for i in range(20):
        out.append(
            (
                f"learner{i + 1:02d}",
                SURNAMES[i] + GIVEN[i],
                ["440305", "440306", "441402", "440106"][i % 4],
                dt.date(1970 + i, 1 + i % 12, 1 + i),
                100 + 2 * i + (i % 2),
                ["team_a", "team_b", "proj", "ent_gz"][i % 4],
            )
        )
    return out


@dataclass
class DemoAccounts:
    organisations: dict[str, Organisation]
    accounts: list[dict[str, str]]

    def user(self, key: str) -> User:
        number = next(a["username"] for a in self.accounts if a["key"] == key)
        return User.objects.get(id_index=id_index_of(number))


def seed_accounts() -> DemoAccounts:
    """Regions, demo organisations and accounts; idempotent."""
    regions_load()
    orgs: dict[str, Organisation] = {}
    for key, name, kind, region_code, parent_key, industry, serial in ORGANISATIONS:
        org = Organisation.objects.filter(name=name, kind=kind).first()
        if org is None:
            org = organisation_create(
                name=name,
                kind=kind,
                region=Region.objects.get(code=region_code),
                parent=orgs[parent_key] if parent_key else None,
                industry=industry,
                uscc=make_uscc(region_code, serial) if serial else "",
                contact_name="联系人"
                if kind in {OrganisationKind.ENTERPRISE, OrganisationKind.INSTITUTION}
                else "",
            )
        orgs[key] = org

    accounts: list[dict[str, str]] = []

    def account(
        key: str,
        name: str,
        region: str,
        birth: dt.date,
        seq: int,
        org_key: str,
        role: str,
        password: str | None,
    ) -> None:
        number = make_resident_id(region, birth, seq)
        user = User.objects.filter(id_index=id_index_of(number)).first()
        if user is None:
            user = user_create(
                id_number=number, name=name, organisation=orgs[org_key], role=role, password=password
            )
        else:
            membership_grant(user=user, organisation=orgs[org_key], role=role)
        accounts.append(
            {
                "key": key,
                "role": role,
                "username": number,
                "password": password or initial_password_for(number),
                "organisation": orgs[org_key].name,
                "name": name,
            }
        )

    account(
        "operator",
        "平台运营员",
        "440106",
        dt.date(1985, 3, 1),
        11,
        "platform",
        Role.OPERATOR,
        STAFF_PASSWORD,
    )
    for i, (key, org_key) in enumerate(
        [
            ("regulator_gd", "reg_gd"),
            ("regulator_sz", "reg_sz"),
            ("regulator_ns", "reg_ns"),
            ("regulator_gz", "reg_gz"),
            ("regulator_tj", "reg_tj"),
            ("regulator_ty", "reg_ty"),
        ]
    ):
        account(
            key,
            f"监管员{orgs[org_key].name[:2]}",
            orgs[org_key].region.code,
            dt.date(1980, 1, 10 + i),
            21 + 2 * i,
            org_key,
            Role.REGULATOR,
            STAFF_PASSWORD,
        )
    account(
        "institution_admin",
        "培训机构管理员",
        "440106",
        dt.date(1982, 6, 5),
        51,
        "inst",
        Role.INSTITUTION_ADMIN,
        STAFF_PASSWORD,
    )
    account(
        "enterprise_admin_sz",
        "深圳企业管理员",
        "440305",
        dt.date(1983, 7, 6),
        61,
        "ent_sz",
        Role.ENTERPRISE_ADMIN,
        STAFF_PASSWORD,
    )
    account(
        "project_admin",
        "项目安全员",
        "440305",
        dt.date(1987, 8, 7),
        71,
        "proj",
        Role.ENTERPRISE_ADMIN,
        STAFF_PASSWORD,
    )
    account(
        "enterprise_admin_gz",
        "广州企业管理员",
        "440106",
        dt.date(1984, 9, 8),
        81,
        "ent_gz",
        Role.ENTERPRISE_ADMIN,
        STAFF_PASSWORD,
    )
    for key, name, region, birth, seq, org_key in demo_learners() + QUICK_LEARNERS + OFFLINE_LEARNERS:
        account(key, name, region, birth, seq, org_key, Role.LEARNER, None)
    return DemoAccounts(orgs, accounts)
