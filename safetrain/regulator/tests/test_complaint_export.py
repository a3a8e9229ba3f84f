"""UX (issue 27, item 20): the complaint list exports its current filter, within the viewer's scope, to Excel."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from conftest import make_org, make_user, web_client_for
from safetrain.accounts.models import Role
from safetrain.orgs.models import OrganisationKind
from safetrain.records.models import AuditEntry
from safetrain.regulator import complaints


def send(world, about, title):
    return complaints.complaint_submit(
        kind="complaint",
        title=title,
        text="第三章第二节的视频一直加载，换了手机也不行。",
        about=about,
        submitter=world.learner_nanshan,
    )


def sheet_rows(response):
    return list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))


def test_reg_05_complaint_list_exports_the_current_filter_to_excel(world):
    school = make_org("南山安全培训学校", OrganisationKind.INSTITUTION, "440305")
    make_user(school, Role.INSTITUTION_ADMIN, name="学校管理员")
    mine = send(world, school, "课程视频无法播放")
    elsewhere = send(world, world.ent_futian, "福田的投诉")
    operator = web_client_for(world.operator)
    response = operator.get("/feedback/manage/", {"format": "xlsx"})
    assert response.status_code == 200
    rows = sheet_rows(response)
    assert rows[0][:3] == ("编号", "类别", "主题")
    assert {r[0] for r in rows[1:]} == {mine.number, elsewhere.number}
    assert "投诉" in {r[1] for r in rows[1:]}
    assert "complaint" not in {r[1] for r in rows[1:]}
    # the filter applies: no answered complaints yet
    assert len(sheet_rows(operator.get("/feedback/manage/", {"state": "answered", "format": "xlsx"}))) == 1
    # a regulator of 南山 sees only the complaint about a unit of 南山
    regulator = web_client_for(world.regulator_nanshan)
    assert [r[0] for r in sheet_rows(regulator.get("/feedback/manage/", {"format": "xlsx"}))[1:]] == [
        mine.number
    ]
    assert AuditEntry.objects.filter(action="regulator.complaints_export").count() == 3
