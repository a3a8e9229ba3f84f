"""EXM-02, UX-01: the paper-rule page names the rule and the region preset in Chinese."""

from __future__ import annotations

import pytest
from django.utils import translation

from conftest import web_client_for


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def test_exm_02_the_rule_has_a_rule_name_and_the_preset_button_names_the_region(programme, world):
    page = web_client_for(world.operator).get(f"/assessment/questions/{programme.code}/rule/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "规则名称" in html
    assert "姓名" not in html
    assert "使用天津市预设" in html
    assert "tianjin" not in html
