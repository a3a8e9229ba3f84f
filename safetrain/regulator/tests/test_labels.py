"""REG-05, UX-01: what a complaint, its sender and the institution registration form are called in the Chinese UI."""

from __future__ import annotations

import pytest
from django.utils import translation

from conftest import make_org, make_user, web_client_for
from safetrain.accounts.models import Role
from safetrain.orgs.models import OrganisationKind
from safetrain.regulator import complaints


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def test_reg_05_a_question_is_a_consultation_and_its_sender_is_named_as_such(world):
    complaint = complaints.complaint_submit(
        kind="question",
        title="证书什么时候能下载",
        text="考试已经通过三天了，证书页面还是空的，请问要等多久？",
        about=None,
        submitter=None,
        contact_name="访客甲",
        contact_phone="13700137000",
    )
    form = web_client_for(world.learner_nanshan).get("/feedback/").content.decode()
    assert "反馈类型" in form
    assert '<option value="question">咨询</option>' in form
    assert ">题目<" not in form
    page = web_client_for(world.operator).get(f"/feedback/manage/{complaint.number}/").content.decode()
    assert "<dt>提交人</dt>" in page
    assert "起始日期" not in page
    assert "访客甲" in page
    listing = web_client_for(world.operator).get("/feedback/manage/").content.decode()
    assert "<td>咨询</td>" in listing
    assert "<td>题目</td>" not in listing


def test_org_04_the_registration_form_submits_a_registration_application_not_an_enrolment(world):
    school = make_org("深圳安全培训学校", OrganisationKind.INSTITUTION, "440305")
    admin = make_user(school, Role.INSTITUTION_ADMIN, name="学校管理员")
    page = web_client_for(admin).get("/regulator/registrations/apply/").content.decode()
    assert "提交备案申请" in page
    assert "提交报名" not in page
