"""FACE-06, UX-01: the group-session form of a class keeps what was entered and names the field at fault."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from PIL import Image

from conftest import web_client_for
from safetrain.enterprise import classes
from safetrain.enterprise.models import ClassGroupSession
from safetrain.enterprise.tests.test_report import Site


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def klass(world):
    site = Site(world)
    a, b = site.person("钢筋甲"), site.person("钢筋乙")
    training_class = classes.class_create(
        unit=world.project,
        programme=site.programme,
        name="12月入场教育第1期",
        starts_on=timezone.localdate(),
        actor=world.admin_nanshan,
    )
    classes.class_add(
        training_class=training_class,
        person_ids=[u.personnel.get(organisation=world.project).pk for u in (a, b)],
        actor=world.admin_nanshan,
    )
    return training_class, a, b


def _errors_by_field(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="(\w+)">([^<]+)<', page))


def test_face_06_a_missing_photo_keeps_every_field_and_names_the_missing_files(klass, world):
    training_class, a, b = klass
    client = web_client_for(world.admin_nanshan)
    response = client.post(
        f"/enterprise/classes/{training_class.pk}/sessions/",
        {
            "date": timezone.localdate().isoformat(),
            "place": "项目部二楼会议室",
            "teacher": "王安全",
            "content": "高处作业与临边防护",
            "minutes": "90",
            "present": [str(a.pk)],
            "sheet": SimpleUploadedFile("sheet.png", _png(), "image/png"),
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert not ClassGroupSession.objects.exists()
    # Everything typed or ticked is still there.
    for value in ("项目部二楼会议室", "王安全", "高处作业与临边防护", 'value="90"'):
        assert value in page
    assert re.search(rf'value="{a.pk}"[^>]*checked', page)
    assert not re.search(rf'value="{b.pk}"[^>]*checked', page)
    # The error sits at the field at fault, in Chinese, never the bare "这个字段是必须的".
    errors = _errors_by_field(page)
    assert set(errors) == {"photos"}
    assert "正脸照片" in errors["photos"]
    assert "这个字段是必须的" not in page
    # The sheet that was chosen must be chosen again: the page says so.
    choose_again = re.search(r'data-testid="choose-again">([^<]+)<', page).group(1)
    assert "签到表" in choose_again


def test_face_06_an_empty_group_session_names_each_missing_field(klass, world):
    training_class, _, _ = klass
    response = web_client_for(world.admin_nanshan).post(
        f"/enterprise/classes/{training_class.pk}/sessions/", {"place": "工地"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    errors = _errors_by_field(page)
    assert {"date", "teacher", "content", "minutes", "present", "sheet", "photos"} <= set(errors)
    assert "勾选" in errors["present"] or "出席" in errors["present"]
    assert "签到表" in errors["sheet"]
    assert "工地" in page
    assert 'data-testid="choose-again"' not in page


def test_face_06_the_group_session_form_of_another_units_class_is_not_found(klass, world):
    training_class, a, _ = klass
    response = web_client_for(world.admin_futian).post(
        f"/enterprise/classes/{training_class.pk}/sessions/", {"present": [str(a.pk)]}
    )
    assert response.status_code == 404
