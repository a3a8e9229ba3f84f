"""REC-03, UX-02: the operation log shows Chinese labels for its action codes, finds entries by what people read
("登录") and by the user's name, and exports the current filter, within the viewer's scope, to Excel."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.utils import translation
from openpyxl import load_workbook

from safetrain.records.actions import ACTION_LABELS, action_label, actions_matching
from safetrain.records.models import AuditEntry
from safetrain.records.services import audit_log


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def actions_shown(page: str) -> list[str]:
    return re.findall(r'<td data-label="操作">([^<]*)</td>', page)


def people_shown(page: str) -> list[str]:
    return re.findall(r'<td data-label="操作人">([^<]*)</td>', page)


def entries(world):
    audit_log(action="auth.login", actor=world.learner_nanshan, obj=world.learner_nanshan)
    audit_log(action="auth.login", actor=world.learner_futian, obj=world.learner_futian)
    audit_log(action="course.create", actor=world.operator)
    audit_log(action="auth.password_change", actor=world.learner_nanshan, obj=world.learner_nanshan)


def test_rec_03_the_log_shows_chinese_labels_and_object_names_not_codes(world, web_client):
    entries(world)
    page = web_client(world.operator).get("/records/audit/").content.decode()
    assert "auth.login" not in page
    assert "accounts.user" not in page
    assert "登录" in page
    assert "修改密码" in page
    assert "用户" in page


def test_rec_03_searching_the_chinese_label_finds_the_login_entries(world, web_client):
    entries(world)
    client = web_client(world.operator)
    shown = actions_shown(client.get("/records/audit/", {"action": "登录"}).content.decode())
    assert len(shown) >= 2  # the two sign-ins (and the operator's own), nothing else
    assert set(shown) == {"登录"}
    # a code prefix still works for those who know the codes
    by_code = actions_shown(client.get("/records/audit/", {"action": "auth.password"}).content.decode())
    assert by_code == ["修改密码"]


def test_rec_03_search_by_the_users_name(world, web_client):
    entries(world)
    page = web_client(world.operator).post("/records/audit/", {"who": "南山 学员"}).content.decode()
    assert sorted(actions_shown(page)) == ["修改密码", "登录"]
    assert len(set(people_shown(page))) == 1
    # A name is personal data: it is never read from the address.
    everyone = web_client(world.operator).get("/records/audit/", {"who": "南山 学员"}).content.decode()
    assert len(set(people_shown(everyone))) > 1


def test_rec_03_excel_export_of_the_current_filter_within_scope(world, web_client):
    entries(world)
    response = web_client(world.admin_nanshan).post("/records/audit/", {"action": "登录", "format": "xlsx"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("序号", "时间", "操作人", "IP地址", "操作", "对象", "结果")
    assert {r[4] for r in rows[1:]} == {"登录"}
    # only sign-ins filed under the admin's own unit (the learner's and the admin's own), never 福田's
    assert AuditEntry.objects.filter(action="auth.login", organisation_id=world.ent_futian.pk).exists()
    assert (
        len(rows) - 1
        == AuditEntry.objects.filter(action="auth.login", organisation_id=world.ent_nanshan.pk).count()
    )
    assert any(r[5].startswith("用户") for r in rows[1:])
    assert AuditEntry.objects.get(action="records.audit_export").detail == {"filters": ["action"]}


def test_rec_03_a_learner_cannot_export_the_log(world, web_client):
    entries(world)
    assert web_client(world.learner_nanshan).post("/records/audit/", {"format": "xlsx"}).status_code == 403


def written_action_codes() -> set[str]:
    """Every literal action code passed to audit_log in the code base."""
    codes = set()
    root = Path(__file__).resolve().parents[2]
    for path in root.rglob("*.py"):
        if "/tests/" in str(path) or "/migrations/" in str(path):
            continue
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"audit_log\(", text):
            found = re.search(r'action="([a-z0-9_.]+)"', text[call.end() : call.end() + 600])
            if found:
                codes.add(found.group(1))
    return codes


def test_ux_02_every_action_code_has_a_chinese_label():
    codes = written_action_codes()
    assert "auth.login" in codes
    for code in codes:
        label = action_label(code)
        assert label != "其他操作", code
        assert not re.search(r"[A-Za-z]", re.sub("PDF|Excel", "", label)), (code, label)
    for code in ACTION_LABELS:
        assert not re.search(r"[A-Za-z]", re.sub("PDF|Excel", "", action_label(code))), code
    assert action_label("auth.something_new") == "登录与安全（其他操作）"
    assert "auth.login" in actions_matching("登录")
    assert actions_matching("  ") == []
