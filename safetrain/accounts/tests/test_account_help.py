"""Account help (issue 27, item 9; and item 6's password messages): 忘记密码, a new initial password from the unit's
administrator, a code by SMS through the provider slot, the first-visit guide, and password rules in Chinese."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client, TestCase
from django.utils import timezone

from conftest import PASSWORD, make_user
from safetrain.accounts import tasks
from safetrain.accounts.identity import initial_password_for
from safetrain.accounts.models import AuthSession, Role, SmsCode
from safetrain.accounts.services import membership_grant, password_reset_code_request, password_reset_login_of
from safetrain.accounts.sms import SmsUnavailable, sms_send
from safetrain.accounts.tests.sms_service import SmsService
from safetrain.records.models import AuditEntry

LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def field_errors(response) -> list[str]:
    return re.findall(r'<p class="field-error" role="alert">([^<]*)</p>', response.content.decode())


# Item 6: the password rules speak Chinese ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_password", "expected"),
    [
        ("Ab1#", "至少需要 8 个字符"),  # Django's length rule, reworded in Django 5.2
        ("abcdefghij", "3类"),  # character classes
        ("Password1", "太常见"),  # Django's common-password list
    ],
)
def test_ux_02_acc_03_every_password_rule_is_refused_in_chinese_on_the_password_page(
    db, new_password, expected
):
    user = make_user(password=None)
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")  # what many phones send: the page stays Chinese
    login(client, user.id_number, initial_password_for(user.id_number))
    response = client.post(
        "/accounts/password/",
        {
            "old_password": initial_password_for(user.id_number),
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert any(expected in e for e in errors), errors
    assert not [e for e in errors if LATIN_WORD.search(e)], errors
    assert "This password" not in response.content.decode()


def test_ux_02_acc_03_the_rules_in_the_id_number_and_history_are_chinese_too(db):
    user = make_user()
    client = Client()
    login(client, user.id_number, PASSWORD)
    for new_password in (f"Aa#{user.id_number}", PASSWORD):
        response = client.post(
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
        )
        errors = field_errors(response)
        assert errors
        assert not [e for e in errors if LATIN_WORD.search(e)], errors


# 忘记密码: the sign-in page leads to the two ways ---------------------------------------------------------------


def test_acc_03_the_sign_in_page_links_to_forgot_password_which_explains_both_ways(db, settings):
    settings.SMS_SERVICE_URL = ""
    page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/forgot/"' in page
    assert "忘记密码" in page
    forgot = Client().get("/accounts/password/forgot/")
    text = forgot.content.decode()
    assert forgot.status_code == 200
    assert "单位管理员" in text
    assert "重置密码" in text
    # Without an SMS provider the code is not offered, and the page says so.
    assert 'data-testid="sms-unavailable"' in text
    assert 'name="username"' not in text


# Reset by the unit's administrator --------------------------------------------------------------------------------


def test_acc_03_a_unit_admin_gives_a_learner_a_new_initial_password_shown_once(world, web_client):
    learner, admin = world.learner_team, world.admin_nanshan
    learner_client = Client()
    login(learner_client, learner.id_number, PASSWORD)
    client = web_client(admin)
    url = f"/accounts/people/{learner.pk}/password-reset/"
    # The people list offers it next to each person.
    assert f'href="{url}"' in client.get("/accounts/people/").content.decode()
    assert (
        'data-testid="reset-password"'
        not in web_client(world.regulator_nanshan).get("/accounts/people/").content.decode()
    )
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert learner.name in confirm.content.decode()
    assert 'data-testid="new-password"' not in confirm.content.decode()
    done = client.post(url)
    assert done.status_code == 200
    assert done["Cache-Control"] == "no-store"
    new_password = re.search(r'data-testid="new-password"><code>([^<]+)</code>', done.content.decode()).group(
        1
    )
    learner.refresh_from_db()
    assert learner.must_change_password
    assert learner.check_password(new_password)
    assert not learner.check_password(PASSWORD)
    # The learner's open session ends; the new password signs in and leads straight to the forced change.
    assert learner_client.get("/").url.startswith("/accounts/login/")
    fresh = Client()
    assert login(fresh, learner.id_number, new_password).status_code == 302
    assert fresh.get("/").url == "/accounts/password/"
    entry = AuditEntry.objects.filter(action="auth.password_reset").latest("pk")
    assert (entry.actor_id, entry.object_id, entry.detail) == (
        admin.pk,
        str(learner.pk),
        {"by": "unit_admin"},
    )
    assert new_password not in str(entry.detail)
    # Shown once: the confirmation page never shows it again.
    assert new_password not in client.get(url).content.decode()


def test_acc_03_an_admin_cannot_reset_outside_the_own_units_nor_an_administrator(world, web_client):
    client = web_client(world.admin_nanshan)
    before = world.learner_futian.password
    # Another enterprise's learner: not even visible.
    assert client.post(f"/accounts/people/{world.learner_futian.pk}/password-reset/").status_code == 404
    world.learner_futian.refresh_from_db()
    assert world.learner_futian.password == before
    # An administrator (here: of the other enterprise, seen by nobody here) or oneself: refused.
    assert client.post(f"/accounts/people/{world.admin_nanshan.pk}/password-reset/").status_code == 403
    # A learner or a regulator has no such page.
    assert (
        web_client(world.learner_nanshan)
        .get(f"/accounts/people/{world.learner_team.pk}/password-reset/")
        .status_code
        == 403
    )
    assert (
        web_client(world.regulator_nanshan)
        .post(f"/accounts/people/{world.learner_team.pk}/password-reset/")
        .status_code
        == 403
    )
    assert not AuditEntry.objects.filter(action="auth.password_reset").exists()


def test_acc_03_acc_08_no_administrator_operator_or_regulator_is_reset_by_a_unit_admin_or_an_operator(
    world, web_client
):
    second_admin = make_user(world.ent_nanshan, Role.ENTERPRISE_ADMIN, name="南山二号管理员")
    project_admin = make_user(world.project, Role.ENTERPRISE_ADMIN, name="项目管理员")
    project_learner = make_user(world.project, Role.LEARNER, name="项目学员")
    second_operator = make_user(world.platform, Role.OPERATOR, name="二号运营员")
    # Someone the admin sees (a learner of the admin's team) who is also a regulator or an operator elsewhere.
    regulator_learner = make_user(world.reg_nanshan, Role.REGULATOR, name="兼职监管员")
    membership_grant(user=regulator_learner, organisation=world.team, role=Role.LEARNER)
    operator_learner = make_user(world.platform, Role.OPERATOR, name="兼职运营员")
    membership_grant(user=operator_learner, organisation=world.team, role=Role.LEARNER)
    refused = {
        world.admin_nanshan: [
            (second_admin, 403),  # another administrator of the same unit
            (project_admin, 403),  # the administrator of a sub-unit
            (regulator_learner, 403),
            (operator_learner, 403),
            (world.operator, 404),  # not among the admin's people at all
            (world.regulator_nanshan, 404),
        ],
        world.operator: [  # an operator sees everyone: only the role check stands in the way
            (second_operator, 403),
            (world.regulator_nanshan, 403),
            (world.admin_nanshan, 403),
            (project_admin, 403),
        ],
    }
    for actor, targets in refused.items():
        client = web_client(actor)
        for target, status in targets:
            url = f"/accounts/people/{target.pk}/password-reset/"
            assert (target.name, client.get(url).status_code) == (target.name, status)
            assert (target.name, client.post(url).status_code) == (target.name, status)
            assert 'data-testid="new-password"' not in client.post(url).content.decode()
            target.refresh_from_db()
            assert target.check_password(PASSWORD), target.name
    assert not AuditEntry.objects.filter(action="auth.password_reset").exists()
    # A learner of a sub-unit (the project below the enterprise): allowed.
    done = web_client(world.admin_nanshan).post(f"/accounts/people/{project_learner.pk}/password-reset/")
    assert done.status_code == 200
    assert 'data-testid="new-password"' in done.content.decode()
    project_learner.refresh_from_db()
    assert project_learner.must_change_password
    assert not project_learner.check_password(PASSWORD)


# Reset by SMS code, through the signed provider slot ------------------------------------------------------------


@pytest.fixture
def sms(settings):
    running = SmsService(key_id="safetrain-sms", secret="sms-secret-0123456789").start()
    settings.SMS_SERVICE_URL = running.url
    settings.SMS_SERVICE_KEY_ID = running.key_id
    settings.SMS_SERVICE_SECRET = running.secret
    settings.POLICY_KEEP_PHONES = True
    yield running
    running.stop()


def request_code(client: Client, username: str):
    """Ask for a code and run what the request queued after its commit (the test's transaction never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/accounts/password/forgot/", {"username": username})


def test_acc_03_sms_a_learner_resets_the_password_with_a_code_sent_to_the_bound_phone(db, sms):
    learner = make_user(phone="13800138001")
    old_session = Client()
    login(old_session, learner.id_number, PASSWORD)
    client = Client()
    sent = request_code(client, learner.id_number)
    assert (sent.status_code, sent.url) == (302, "/accounts/password/reset/")
    assert len(sms.messages) == 1
    message = sms.messages[0]
    assert (message["phone"], message["template"], message["params"]["minutes"]) == (
        "13800138001",
        "password_reset",
        "10",
    )
    code = message["params"]["code"]
    assert re.fullmatch(r"\d{6}", code)
    # Hashed at rest: the code itself is nowhere in the database.
    stored = SmsCode.objects.get(user=learner)
    assert code not in stored.code_hash
    assert stored.expires_at - stored.created_at == dt.timedelta(minutes=10)
    page = client.get("/accounts/password/reset/")
    assert "6 位验证码已发送到该手机" in page.content.decode()
    done = client.post(
        "/accounts/password/reset/",
        {"code": code, "new_password1": "Fresh#Pass2026", "new_password2": "Fresh#Pass2026"},
    )
    assert (done.status_code, done.url) == (302, "/accounts/login/")
    learner.refresh_from_db()
    assert learner.check_password("Fresh#Pass2026")
    assert not learner.must_change_password
    assert old_session.get("/").status_code == 302  # every session ended
    assert not AuthSession.objects.filter(user=learner, ended_at__isnull=True).exists()
    # Used once.
    again = client.post(
        "/accounts/password/reset/",
        {"code": code, "new_password1": "Other#Pass2026", "new_password2": "Other#Pass2026"},
    )
    assert again.status_code == 302  # the session no longer holds a pending reset
    assert AuditEntry.objects.filter(action="auth.password_reset", object_id=str(learner.pk)).exists()
    assert not AuditEntry.objects.filter(detail__icontains="13800138001").exists()


def test_acc_03_sms_the_answer_is_the_same_whether_or_not_the_account_exists(db, sms):
    with_phone = make_user(phone="13800138002")
    without_phone = make_user()
    answers = []
    for username in (with_phone.id_number, without_phone.id_number, "110101199003070000", "13900000000"):
        client = Client()
        response = request_code(client, username)
        page = client.get(response.url)
        answers.append((response.status_code, response.url, page.status_code, page.content.decode()))
    assert len({(a[0], a[1], a[2]) for a in answers}) == 1
    texts = [
        re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]+"', "", a[3].split('<section class="card narrow">')[1]
        )
        for a in answers
    ]
    assert len(set(texts)) == 1
    assert "6 位验证码已发送到该手机" in texts[0]
    assert [m["phone"] for m in sms.messages] == ["13800138002"]


def test_acc_03_sms_every_request_queues_the_same_task_with_the_blind_indexes_and_sends_nothing_itself(
    db, sms, monkeypatch, django_capture_on_commit_callbacks
):
    with_phone = make_user(phone="13800138009")
    without_phone = make_user()
    sent_by_task = []
    monkeypatch.setattr(tasks, "password_reset_code_send", lambda **kw: sent_by_task.append(kw))
    usernames = [
        with_phone.id_number,
        "13800138009",
        without_phone.id_number,
        "110101199003070000",
        "13900000000",
    ]
    for username in usernames:
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = Client().post("/accounts/password/forgot/", {"username": username})
        assert (response.status_code, response.url) == (302, "/accounts/password/reset/")
        # The answer is given before anything is looked up, written or sent: one task, after the commit.
        assert len(queued) == 1
        assert not SmsCode.objects.exists()
        assert not AuditEntry.objects.filter(action="auth.password_reset_code").exists()
        queued[0]()
    assert sms.messages == []
    # The same task for each, holding only the login's blind indexes: never the number typed.
    assert sent_by_task == [
        {"id_index": index, "phone_index": phone_index}
        for index, phone_index in (password_reset_login_of(u) for u in usernames)
    ]
    assert not [u for u in usernames if u in str(sent_by_task)]


def test_acc_03_sms_the_task_looks_the_account_up_and_sends_the_code(db, sms):
    learner = make_user(phone="13800138011")
    tasks.send_password_reset_code.delay(*password_reset_login_of("13800138011"))
    tasks.send_password_reset_code.delay(*password_reset_login_of("110101199003070000"))
    assert [m["phone"] for m in sms.messages] == ["13800138011"]
    assert SmsCode.objects.get().user == learner
    tasks.send_password_reset_code.delay(*password_reset_login_of(learner.id_number))  # within the minute
    assert len(sms.messages) == 1
    assert AuditEntry.objects.filter(action="auth.password_reset_code", result="denied").exists()


def test_acc_03_sms_the_session_keeps_the_blind_indexes_not_the_id_number_or_phone(db, sms):
    learner = make_user(phone="13800138010")
    client = Client()
    request_code(client, "138 0013 8010")
    kept = dict(client.session.items())
    assert kept["password_reset_login"] == password_reset_login_of("13800138010")
    assert "13800138010" not in str(kept)
    assert learner.id_number not in str(kept)
    code = sms.messages[-1]["params"]["code"]
    done = client.post(
        "/accounts/password/reset/",
        {"code": code, "new_password1": "Fresh#Pass2026", "new_password2": "Fresh#Pass2026"},
    )
    assert (done.status_code, done.url) == (302, "/accounts/login/")
    learner.refresh_from_db()
    assert learner.check_password("Fresh#Pass2026")
    assert "password_reset_login" not in client.session
    # A session from before, holding the number itself: the number goes, and the person starts again.
    session = client.session
    session["password_reset_for"] = learner.id_number
    session.save()
    again = client.get("/accounts/password/reset/")
    assert (again.status_code, again.url) == (302, "/accounts/password/forgot/")
    assert "password_reset_for" not in client.session


def test_acc_03_sms_a_wrong_code_counts_and_five_wrong_void_it(db, sms):
    learner = make_user(phone="13800138003")
    client = Client()
    request_code(client, learner.id_number)
    code = sms.messages[-1]["params"]["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        refused = client.post(
            "/accounts/password/reset/",
            {"code": wrong, "new_password1": "Fresh#Pass2026", "new_password2": "Fresh#Pass2026"},
        )
        assert refused.status_code == 400
        assert any("验证码" in e for e in field_errors(refused))
    assert SmsCode.objects.get(user=learner).tries == 5
    late = client.post(
        "/accounts/password/reset/",
        {"code": code, "new_password1": "Fresh#Pass2026", "new_password2": "Fresh#Pass2026"},
    )
    assert late.status_code == 400
    learner.refresh_from_db()
    assert learner.check_password(PASSWORD)


def test_acc_03_sms_a_code_expires_after_ten_minutes_and_a_weak_password_keeps_it(db, sms):
    learner = make_user(phone="13800138004")
    client = Client()
    request_code(client, learner.id_number)
    code = sms.messages[-1]["params"]["code"]
    weak = client.post(
        "/accounts/password/reset/", {"code": code, "new_password1": "abc", "new_password2": "abc"}
    )
    assert weak.status_code == 400
    assert any("至少需要 8 个字符" in e for e in field_errors(weak))
    assert 'value="' + code + '"' in weak.content.decode()  # what the learner typed stays
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=11)):
        expired = client.post(
            "/accounts/password/reset/",
            {"code": code, "new_password1": "Fresh#Pass2026", "new_password2": "Fresh#Pass2026"},
        )
    assert expired.status_code == 400
    learner.refresh_from_db()
    assert learner.check_password(PASSWORD)


def test_acc_03_sms_codes_are_limited_per_phone_and_per_address(db, sms, settings):
    settings.SMS_CODES_PER_IP_PER_HOUR = 3
    learner = make_user(phone="13800138005")
    client = Client()
    request_code(client, learner.id_number)
    request_code(client, learner.id_number)  # within a minute: nothing more is sent, the answer is the same
    assert len(sms.messages) == 1
    assert request_code(client, "13800138005").status_code == 302
    over = request_code(client, learner.id_number)
    assert over.status_code == 400
    assert "请求验证码的次数过多" in over.content.decode()
    assert len(sms.messages) == 1


def test_acc_03_sms_not_offered_where_the_profile_keeps_no_phones(db, sms, settings):
    settings.POLICY_KEEP_PHONES = False
    page = Client().get("/accounts/password/forgot/").content.decode()
    assert 'data-testid="sms-unavailable"' in page
    assert request_code(Client(), "13800138006").status_code == 400
    assert sms.messages == []


def test_acc_03_sms_the_provider_slot_signs_every_request_and_refuses_a_wrong_secret(db, sms, settings):
    assert sms_send("13800138007", "password_reset", {"code": "123456", "minutes": "10"})
    assert sms.requests[-1] == ("/v1/messages", 200)
    settings.SMS_SERVICE_SECRET = "not-the-secret"
    with pytest.raises(SmsUnavailable):
        sms_send("13800138007", "password_reset", {"code": "123456", "minutes": "10"})
    assert sms.requests[-1] == ("/v1/messages", 401)
    assert len(sms.messages) == 1


def test_acc_03_sms_a_provider_that_refuses_leaves_the_same_answer_and_an_audit_entry(db, sms, settings, rf):
    learner = make_user(phone="13800138008")
    settings.SMS_SERVICE_SECRET = "not-the-secret"
    request = rf.post("/accounts/password/forgot/")
    with TestCase.captureOnCommitCallbacks(execute=True):
        password_reset_code_request(request=request, identifier=learner.id_number)
    assert AuditEntry.objects.filter(action="auth.password_reset_code", result="failure").exists()


# The first-visit guide ------------------------------------------------------------------------------------------------


def test_lrn_08_a_new_learner_s_desk_shows_the_four_step_guide_until_closed(world, web_client):
    client = web_client(world.learner_nanshan)
    page = client.get("/").content.decode()
    assert 'data-testid="first-visit-guide"' in page
    for step in ("上传照片", "学习课程", "参加考试", "领取证书"):
        assert step in page
    assert page.count('aria-current="step"') == 1
    assert client.post("/accounts/guide/dismiss/").status_code == 302
    assert 'data-testid="first-visit-guide"' not in client.get("/").content.decode()
    world.learner_nanshan.refresh_from_db()
    assert world.learner_nanshan.guide_dismissed_at is not None
    # Administrators never see it.
    assert 'data-testid="first-visit-guide"' not in web_client(world.admin_nanshan).get("/").content.decode()


def test_lrn_08_the_guide_highlights_the_first_step_not_done(world, web_client):
    from safetrain.accounts import guide

    saved = dict(guide._done)
    try:
        guide.guide_step_register(step="photo", done=lambda user: True)
        guide.guide_step_register(step="study", done=lambda user: False)
        page = web_client(world.learner_nanshan).get("/").content.decode()
        current = re.search(r'<li class="current" aria-current="step">(.*?)</li>', page, re.S).group(1)
        assert "学习课程" in current
        assert "✓" in page
    finally:
        guide._done.clear()
        guide._done.update(saved)


# Speed: a password change hashes no password twice -----------------------------------------------------------------


def test_acc_03_a_new_password_differs_from_the_last_five_and_a_change_hashes_nothing_twice(db, monkeypatch):
    from django.contrib.auth.hashers import MD5PasswordHasher

    from safetrain.accounts.services import password_change
    from safetrain.core.errors import DomainError

    user = make_user()
    previous = PASSWORD
    for i in range(1, 5):
        password_change(user=user, old_password=previous, new_password=f"Step#{i}Pass2026")
        previous = f"Step#{i}Pass2026"
    # The last five: the current one (Step#4) and Step#3, #2, #1 and the first.
    with pytest.raises(DomainError) as refused:
        password_change(user=user, old_password=previous, new_password=PASSWORD)
    assert refused.value.field == "new_password"
    with pytest.raises(DomainError):
        password_change(user=user, old_password=previous, new_password=previous)
    hashed = []
    original = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher, "encode", lambda self, p, s: hashed.append(1) or original(self, p, s)
    )
    password_change(user=user, old_password=previous, new_password="Step#5Pass2026")
    # The current password once (checked), the four before it once each, the new one once: 6, not 8.
    assert len(hashed) == 6
    monkeypatch.undo()
    # Five changes on, the first password may come back.
    password_change(user=user, old_password="Step#5Pass2026", new_password=PASSWORD)
    assert user.check_password(PASSWORD)
