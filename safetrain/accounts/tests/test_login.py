"""ACC-02..05: sign-in, captcha, lockout, forced password change, idle timeout, one active session."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from captcha.models import CaptchaStore
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, make_user
from safetrain.accounts.identity import initial_password_for
from safetrain.accounts.models import AuthSession, Role
from safetrain.records.models import AuditEntry


def login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def captcha_answer(response) -> dict[str, str]:
    key = re.search(rb'name="captcha_key" value="([0-9a-f]+)"', response.content).group(1).decode()
    return {"captcha_key": key, "captcha_value": CaptchaStore.objects.get(hashkey=key).response}


def test_acc_02_a_learner_signs_in_with_the_id_number_and_lands_on_the_dashboard(db):
    user = make_user(name="王五")
    client = Client()
    response = login(client, user.id_number.lower(), PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "王五" in page.content.decode()


def test_acc_02_phone_login_works_where_the_policy_keeps_phones(db, settings):
    settings.POLICY_KEEP_PHONES = True
    user = make_user(phone="13900001111")
    assert login(Client(), "13900001111", PASSWORD).status_code == 302
    settings.POLICY_KEEP_PHONES = False
    assert login(Client(), "13900001111", PASSWORD).status_code == 400
    assert login(Client(), user.id_number, PASSWORD).status_code == 302


def test_acc_04_a_wrong_password_says_so_and_counts_down(db):
    user = make_user()
    response = login(Client(), user.id_number, "Wrong#Pass1")
    assert response.status_code == 400
    text = response.content.decode()
    assert "证件号码或密码不正确" in text
    assert "再错4次" in text


def test_acc_02_a_captcha_is_required_after_three_failures_and_checked(db):
    user = make_user()
    client = Client()
    for _ in range(3):
        response = login(client, user.id_number, "Wrong#Pass1")
    assert b'name="captcha_key"' in response.content
    # The right password alone is no longer enough.
    response = login(client, user.id_number, PASSWORD)
    assert response.status_code == 400
    assert "请输入图片验证码" in response.content.decode()
    answer = captcha_answer(response)
    wrong = {**answer, "captcha_value": "zzzz"}
    response = login(client, user.id_number, PASSWORD, **wrong)
    assert "验证码不正确" in response.content.decode()
    answer = captcha_answer(response)
    assert login(client, user.id_number, PASSWORD, **answer).status_code == 302


def test_acc_04_five_failures_lock_the_account_for_fifteen_minutes(db):
    user = make_user()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        response = None
        for _ in range(5):
            extra = (
                captcha_answer(response)
                if response is not None and b"captcha_key" in response.content
                else {}
            )
            response = login(client, user.id_number, "Wrong#Pass1", **extra)
        assert response.status_code == 423
        assert "锁定15分钟" in response.content.decode()
        # Even the right password (with a solved captcha) is refused while locked.
        response = login(client, user.id_number, PASSWORD, **captcha_answer(response))
        assert response.status_code == 400
        assert "锁定" in response.content.decode()
        assert not client.session.get("_auth_user_id")
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        fresh = Client()
        first = login(fresh, user.id_number, PASSWORD)
        assert first.status_code == 302
    failures = AuditEntry.objects.filter(
        action="auth.login", result="failure", object_id=str(user.pk)
    ).count()
    assert failures >= 5
    lockout = AuditEntry.objects.filter(action="auth.lockout", object_id=str(user.pk)).first()
    assert lockout is not None
    assert lockout.result == "denied"


def test_acc_04_every_sign_in_attempt_is_in_the_audit_trail_without_the_id_number(db):
    user = make_user()
    login(Client(), user.id_number, "Wrong#Pass1")
    login(Client(), user.id_number, PASSWORD)
    entries = list(AuditEntry.objects.filter(action="auth.login").order_by("seq"))
    assert [e.result for e in entries] == ["failure", "success"]
    assert entries[1].actor_id == user.pk
    assert entries[1].ip == "127.0.0.1"
    for e in entries:
        assert user.id_number not in repr(e.detail)
        assert user.id_number not in e.actor_label


def test_acc_03_an_initial_password_must_be_changed_before_anything_else(db):
    user = make_user(password=None)
    assert user.must_change_password
    client = Client()
    assert login(client, user.id_number, initial_password_for(user.id_number)).status_code == 302
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/accounts/password/"
    assert client.get("/accounts/profile/").url == "/accounts/password/"
    page = client.get("/accounts/password/")
    assert "初始密码" in page.content.decode()
    # A weak password is refused with the rule, and nothing changes.
    weak = client.post(
        "/accounts/password/",
        {
            "old_password": initial_password_for(user.id_number),
            "new_password1": "abcdefgh",
            "new_password2": "abcdefgh",
        },
    )
    assert weak.status_code == 400
    assert "至少" in weak.content.decode()
    user.refresh_from_db()
    assert user.must_change_password
    done = client.post(
        "/accounts/password/",
        {
            "old_password": initial_password_for(user.id_number),
            "new_password1": "New#Pass2026",
            "new_password2": "New#Pass2026",
        },
    )
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.check_password("New#Pass2026")


def test_acc_04_an_idle_session_expires(db, settings):
    user = make_user()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        login(client, user.id_number, PASSWORD)
        assert client.get("/").status_code == 200
    with time_machine.travel(
        start + dt.timedelta(minutes=settings.SESSION_IDLE_TIMEOUT_MINUTES - 1), tick=False
    ):
        assert client.get("/").status_code == 200  # activity keeps it alive
    later = start + dt.timedelta(minutes=2 * settings.SESSION_IDLE_TIMEOUT_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        response = client.get("/")
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_acc_05_a_new_login_ends_the_older_session_and_tells_it_why(db):
    user = make_user()
    first, second = Client(), Client()
    login(first, user.id_number, PASSWORD)
    assert first.get("/").status_code == 200
    login(second, user.id_number, PASSWORD)
    assert second.get("/").status_code == 200
    response = first.get("/accounts/profile/")
    assert response.status_code == 302
    assert "ended=signed_in_elsewhere" in response.url
    notice = first.get(response.url)
    assert "已在其他地方登录" in notice.content.decode()
    # The first browser is really signed out now.
    assert first.get("/").status_code == 302
    assert AuthSession.objects.filter(user=user, ended_at__isnull=True).count() == 1


def test_acc_05_an_api_login_ends_the_browser_session_too(db):
    user = make_user()
    browser = Client()
    login(browser, user.id_number, PASSWORD)
    api = Client()
    token = api.post(
        "/api/v1/auth/login",
        {"username": user.id_number, "password": PASSWORD},
        content_type="application/json",
    ).json()["token"]
    assert browser.get("/").status_code == 302
    # ... and a later browser login ends the token.
    login(browser, user.id_number, PASSWORD)
    response = api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"
    assert "其他地方登录" in response.json()["message"]


def test_acc_05_signing_out_ends_the_session(db):
    user = make_user()
    client = Client()
    login(client, user.id_number, PASSWORD)
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
    assert AuthSession.objects.get(user=user).end_reason == "logout"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.REGULATOR])
def test_nat_07_operators_and_regulators_need_a_second_factor(world, role):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = world.operator if role == Role.OPERATOR else world.regulator_nanshan
    client = Client()
    login(client, user.id_number, PASSWORD)
    response = client.get("/accounts/people/")
    assert response.status_code == 302
    assert response.url == "/accounts/two-factor/"
    page = client.get("/accounts/two-factor/")
    assert b"<svg" in page.content  # QR code to scan
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    bad = client.post("/accounts/two-factor/", {"otp_token": "000000"})
    assert bad.status_code == 400
    assert "动态验证码不正确" in bad.content.decode()
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    assert client.post("/accounts/two-factor/", {"otp_token": f"{code:06d}"}).status_code == 302
    assert client.get("/accounts/people/").status_code == 200


def test_nat_07_two_factor_is_not_asked_of_learners(world):
    client = Client()
    login(client, world.learner_nanshan.id_number, PASSWORD)
    assert client.get("/").status_code == 200


def test_acc_04_an_api_sign_in_clears_the_failure_count(db):
    user = make_user()
    client = Client()
    body = {"username": user.id_number, "password": "Wrong#Pass1"}
    for _ in range(2):
        client.post("/api/v1/auth/login", body, content_type="application/json")
    ok = client.post("/api/v1/auth/login", {**body, "password": PASSWORD}, content_type="application/json")
    assert ok.status_code == 200
    again = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert "再错4次" in again.json()["message"]


def test_acc_04_refused_attempts_are_audited_too(db):
    user = make_user()
    client = Client()
    for _ in range(3):
        login(client, user.id_number, "Wrong#Pass1")
    login(client, user.id_number, PASSWORD)  # no captcha: refused before the password is checked
    refused = AuditEntry.objects.filter(action="auth.login", result="denied", object_id=str(user.pk))
    assert refused.get().detail["reason"] == "captcha_missing"


def test_acc_02_many_accounts_tried_from_one_address_get_a_captcha(db, settings):
    settings.CAPTCHA_AFTER_IP_FAILURES = 4
    users = [make_user() for _ in range(5)]
    client = Client()
    for user in users[:4]:
        login(client, user.id_number, "Wrong#Pass1")
    response = login(client, users[4].id_number, PASSWORD)
    assert response.status_code == 400
    assert "图片验证码" in response.content.decode()


def test_nat_07_a_password_alone_does_not_sign_a_staff_member_out_elsewhere(world):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = world.regulator_nanshan
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    first = Client()
    login(first, user.id_number, PASSWORD)
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    assert first.post("/accounts/two-factor/", {"otp_token": f"{code:06d}"}).status_code == 302
    assert first.get("/accounts/people/").status_code == 200
    intruder = Client()
    login(intruder, user.id_number, PASSWORD)  # knows the password, not the second factor
    assert first.get("/accounts/people/").status_code == 200
    assert intruder.get("/accounts/people/").url == "/accounts/two-factor/"


def test_nat_07_staff_accounts_never_get_an_initial_password(world):
    from conftest import new_id_number
    from safetrain.accounts.models import User
    from safetrain.accounts.services import user_create
    from safetrain.core.errors import DomainError

    before = User.objects.count()
    with pytest.raises(DomainError) as err:
        user_create(
            id_number=new_id_number(), name="新监管员", organisation=world.reg_nanshan, role=Role.REGULATOR
        )
    assert err.value.code == "staff_password_required"
    assert User.objects.count() == before
