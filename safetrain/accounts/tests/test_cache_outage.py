"""Sign-in without Redis (OPS-01, ACC-02): the per-address failure counter lives in the cache, but sessions,
captchas and lockouts are in the database, so a Redis outage must not stop anybody signing in. The counter falls
back to django-axes' failures in the database, so many failures from one address still ask for a captcha."""

from __future__ import annotations

import socket

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client, override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

from conftest import PASSWORD, make_user


def dead_redis() -> dict:
    """A Redis cache on a port where nothing listens: every cache call fails as when Redis is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }


@pytest.fixture
def redis_down():
    with override_settings(CACHES=dead_redis()):
        with pytest.raises(RedisConnectionError):
            cache.get("anything")  # the outage is real: the cache itself fails
        yield


def login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def test_ops_01_a_learner_signs_in_through_the_form_while_redis_is_down(db, redis_down):
    user = make_user(name="王五")
    client = Client(raise_request_exception=True)
    response = login(client, user.id_number, PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "王五" in page.content.decode()


def test_ops_01_the_api_signs_in_while_redis_is_down(db, redis_down):
    user = make_user()
    client = Client(raise_request_exception=True)
    response = client.post(
        "/api/v1/auth/login",
        {"username": user.id_number, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["id"] == user.pk


def test_ops_01_a_wrong_password_while_redis_is_down_is_refused_and_counted_in_the_database(db, redis_down):
    user = make_user()
    response = login(Client(raise_request_exception=True), user.id_number, "Wrong#Pass1")
    assert response.status_code == 400
    assert "证件号码或密码不正确" in response.content.decode()
    assert AccessAttempt.objects.filter(ip_address="127.0.0.1").count() == 1


def test_acc_02_many_failed_accounts_from_one_address_still_ask_for_a_captcha_while_redis_is_down(
    db, redis_down, settings
):
    settings.CAPTCHA_AFTER_IP_FAILURES = 4
    client = Client(raise_request_exception=True)
    for _ in range(4):  # one failure each on four accounts: no account reaches its own captcha threshold
        response = login(client, make_user().id_number, "Wrong#Pass1")
        assert response.status_code == 400
        assert b'name="captcha_key"' not in response.content
    # From this address, even the right password of a fifth account now needs the captcha.
    response = login(client, make_user().id_number, PASSWORD)
    assert response.status_code == 400
    assert "请输入图片验证码" in response.content.decode()
    assert b'name="captcha_key"' in response.content


def test_acc_02_the_address_count_comes_from_redis_while_it_answers(db, settings):
    settings.CAPTCHA_AFTER_IP_FAILURES = 2
    client = Client()
    for _ in range(2):
        login(client, make_user().id_number, "Wrong#Pass1")
    AccessAttempt.objects.all().delete()  # the cache alone remembers the failures now
    response = login(client, make_user().id_number, PASSWORD)
    assert "请输入图片验证码" in response.content.decode()
