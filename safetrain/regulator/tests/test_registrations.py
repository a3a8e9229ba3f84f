"""ORG-04, REG-03: an institution registers in its city's module with its commitment letter; only that city's
regulator decides; registered institutions are listed publicly per city in registration order, never ranked;
suspension, cancellation and withdrawal, each with its reason kept."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from conftest import make_org, make_user, web_client_for
from safetrain.accounts.models import Role
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.orgs.models import OrganisationKind, Region
from safetrain.records.models import AuditEntry
from safetrain.regulator import registrations
from safetrain.regulator.models import InstitutionRegistration, RegistrationState

PDF = b"%PDF-1.4\n% signed commitment letter\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DETAILS = {
    "legal_representative": "陈志强",
    "address": "深圳市南山区科技园",
    "contact_name": "王芳",
    "contact_phone": "0755-86000000",
    "scope": "主要负责人和安全生产管理人员初次培训、再培训",
}


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def setup(world):
    class S:
        pass

    s = S()
    s.shenzhen = Region.objects.get(code="440300")
    s.guangzhou = Region.objects.get(code="440100")
    s.first = make_org("深圳安全培训学校", OrganisationKind.INSTITUTION, "440305")
    s.second = make_org("鹏城安全培训中心", OrganisationKind.INSTITUTION, "440304")
    s.admin = make_user(s.first, Role.INSTITUTION_ADMIN, name="学校管理员")
    s.admin2 = make_user(s.second, Role.INSTITUTION_ADMIN, name="中心管理员", region="440304")
    gz_reg = make_org("广州市应急管理局", OrganisationKind.REGULATOR, "440100")
    s.guangzhou_regulator = make_user(gz_reg, Role.REGULATOR, name="广州监管员", region="440106")
    return s


def letter(data: bytes = PDF, name: str = "承诺书.pdf"):
    return SimpleUploadedFile(name, data, "application/pdf")


def apply(setup, institution=None, actor=None, city=None):
    return registrations.registration_apply(
        institution=institution or setup.first,
        city=city or setup.shenzhen,
        commitment=letter(),
        details=DETAILS,
        actor=actor or setup.admin,
    )


def test_org_04_an_institution_applies_in_a_city_module_with_its_commitment_letter(setup, world):
    for kwargs, message in [
        (dict(commitment=letter(b"<html>not a letter</html>", "x.pdf")), "PDF"),
        (dict(commitment=None), "承诺书"),
        (dict(details={**DETAILS, "scope": " "}), "培训"),
        (dict(city=Region.objects.get(code="440305")), "地级以上市"),
    ]:
        args = dict(
            institution=setup.first,
            city=setup.shenzhen,
            commitment=letter(),
            details=DETAILS,
            actor=setup.admin,
        )
        args.update(kwargs)
        with pytest.raises(DomainError, match=message):
            registrations.registration_apply(**args)
    with pytest.raises(PermissionDenied):
        apply(setup, actor=setup.admin2)
    with pytest.raises(DomainError, match="培训机构"):
        registrations.registration_apply(
            institution=world.ent_nanshan,
            city=setup.shenzhen,
            commitment=letter(),
            details=DETAILS,
            actor=world.operator,
        )
    assert not InstitutionRegistration.objects.exists()
    registration = apply(setup)
    assert registration.state == RegistrationState.SUBMITTED
    assert len(registration.commitment_sha256) == 64
    with pytest.raises(DomainError, match="已有"):
        apply(setup)
    apply(setup, city=setup.guangzhou)  # another city's module is another registration


def test_reg_03_only_the_citys_regulator_decides_and_the_public_list_is_in_registration_order(setup, world):
    first = apply(setup)
    second = apply(setup, institution=setup.second, actor=setup.admin2)
    for outsider in (setup.guangzhou_regulator, world.regulator_nanshan, setup.admin):
        with pytest.raises(PermissionDenied):
            registrations.registration_decide(registration=first, approve=True, actor=outsider)
    with pytest.raises(DomainError, match="驳回原因"):
        registrations.registration_decide(registration=second, approve=False, actor=world.regulator_city)
    # Approved in the opposite order of the names: the list keeps the registration order.
    registrations.registration_decide(registration=second, approve=True, actor=world.regulator_city)
    registrations.registration_decide(registration=first, approve=True, actor=world.regulator_city)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.number.startswith("440300-")
    assert second.number.endswith("0001")
    assert first.number.endswith("0002")
    assert [r.institution.name for r in registrations.public_list(setup.shenzhen)] == [
        "鹏城安全培训中心",
        "深圳安全培训学校",
    ]
    with pytest.raises(DomainError, match="已审核|已处理|已决定"):
        registrations.registration_decide(
            registration=first, approve=False, reason="x", actor=world.regulator_city
        )
    page = web_client_for(world.operator).get("/institutions/440300/")
    text = page.content.decode()
    assert text.index("鹏城安全培训中心") < text.index("深圳安全培训学校")
    assert "不是排名" in text
    assert "深圳市" in web_client_for(world.operator).get("/institutions/").content.decode()
    from django.test import Client

    assert Client().get("/institutions/440300/").status_code == 200  # public, no sign-in
    assert AuditEntry.objects.filter(action="regulator.registration_approve").count() == 2


def test_reg_03_suspension_cancellation_and_withdrawal_keep_their_reasons(setup, world):
    registration = apply(setup)
    registrations.registration_decide(registration=registration, approve=True, actor=world.regulator_city)
    with pytest.raises(DomainError, match="理由"):
        registrations.registration_change(
            registration=registration, action="suspend", reason="", actor=world.regulator_city
        )
    registrations.registration_change(
        registration=registration,
        action="suspend",
        reason="出具虚假培训证明，立案调查",
        actor=world.regulator_city,
    )
    assert list(registrations.public_list(setup.shenzhen)) == []  # off the public list while suspended
    with pytest.raises(PermissionDenied):
        registrations.registration_change(
            registration=registration, action="reinstate", reason="x", actor=setup.admin
        )
    registrations.registration_change(
        registration=registration, action="reinstate", reason="整改完成", actor=world.regulator_city
    )
    assert list(registrations.public_list(setup.shenzhen)) == [
        InstitutionRegistration.objects.get(pk=registration.pk)
    ]
    with pytest.raises(PermissionDenied):
        registrations.registration_change(
            registration=registration, action="withdraw", reason="x", actor=setup.admin2
        )
    registrations.registration_change(
        registration=registration, action="withdraw", reason="停止网络培训业务", actor=setup.admin
    )
    registration.refresh_from_db()
    assert registration.state == RegistrationState.WITHDRAWN
    with pytest.raises(DomainError, match="“已撤回”"):
        registrations.registration_change(
            registration=registration, action="suspend", reason="x", actor=world.regulator_city
        )
    actions = [e.action for e in registration.events.all()]
    assert actions == ["apply", "approve", "suspend", "reinstate", "withdraw"]
    assert registration.events.get(action="suspend").reason == "出具虚假培训证明，立案调查"
    apply(setup)  # withdrawn: the institution may apply again


def test_org_04_the_pages_apply_review_and_scope(setup, world):
    client = web_client_for(setup.admin)
    response = client.post(
        "/regulator/registrations/apply/",
        {"institution": setup.first.pk, "city": setup.shenzhen.pk, **DETAILS, "commitment": letter()},
    )
    registration = InstitutionRegistration.objects.get()
    assert response["Location"] == f"/regulator/registrations/{registration.pk}/"
    bad = client.post(
        "/regulator/registrations/apply/",
        {"institution": setup.second.pk, "city": setup.shenzhen.pk, **DETAILS, "commitment": letter()},
    )
    assert bad.status_code == 400  # not their institution
    regulator = web_client_for(world.regulator_city)
    assert "深圳安全培训学校" in regulator.get("/regulator/registrations/").content.decode()
    assert (
        "深圳安全培训学校"
        not in web_client_for(setup.guangzhou_regulator).get("/regulator/registrations/").content.decode()
    )
    assert (
        web_client_for(setup.guangzhou_regulator)
        .get(f"/regulator/registrations/{registration.pk}/")
        .status_code
        == 404
    )
    letter_page = regulator.get(f"/regulator/registrations/{registration.pk}/commitment/")
    assert letter_page.status_code == 200
    assert b"".join(letter_page.streaming_content).startswith(b"%PDF")
    assert (
        web_client_for(setup.admin2)
        .get(f"/regulator/registrations/{registration.pk}/commitment/")
        .status_code
        == 404
    )
    regulator.post(f"/regulator/registrations/{registration.pk}/", {"action": "approve", "reason": ""})
    registration.refresh_from_db()
    assert registration.state == RegistrationState.APPROVED
    page = client.get(f"/regulator/registrations/{registration.pk}/").content.decode()
    assert registration.number in page
    assert "已登记" in page


def test_org_04_a_letter_is_stored_by_its_content_and_served_as_a_download(setup, world):
    """A file named .html that starts like a PDF must never come back as a page of the platform."""
    registration = registrations.registration_apply(
        institution=setup.first,
        city=setup.shenzhen,
        commitment=letter(b"%PDF-1.4<script>alert(1)</script>", "letter.html"),
        details=DETAILS,
        actor=setup.admin,
    )
    assert registration.commitment.name.endswith(".pdf")
    response = web_client_for(world.regulator_city).get(
        f"/regulator/registrations/{registration.pk}/commitment/"
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    # A regulator's cancellation is not the institution's withdrawal.
    registrations.registration_decide(registration=registration, approve=True, actor=world.regulator_city)
    registrations.registration_change(
        registration=registration, action="cancel", reason="弄虚作假", actor=world.regulator_city
    )
    registration.refresh_from_db()
    assert registration.state == RegistrationState.CANCELLED
    assert registration.get_state_display() == "注销登记"
