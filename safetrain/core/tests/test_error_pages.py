"""Error answers (OPS-01, UX-02): a Chinese page in the site's layout, or Chinese JSON under /api/v1, never
Django's debug page; a database or Redis that cannot be reached is a 503, not a 500."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def test_ops_01_an_unknown_page_is_a_chinese_404_in_the_sites_layout_without_the_url_list(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'lang="zh-hans"' in page
    assert "页面不存在" in page
    assert 'class="topbar"' in page
    assert "400-800-1234" in page
    assert "URLconf" not in page
    assert "api/v1/" not in page


def test_ops_01_an_unknown_api_address_is_chinese_json(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "not_found"
    assert body["message"] == "该网址没有对应的页面。请检查网址，或回到我的工作台重新开始。"


def test_ops_01_a_refused_form_is_a_chinese_403_page(client):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "无权访问" in page
    assert 'class="topbar"' in page
    assert "CSRF verification failed" not in page


@pytest.mark.urls("safetrain.core.tests.error_urls")
def test_ops_01_a_bug_is_a_chinese_500_page_and_api_json(client):
    response = client.get("/boom/bug")
    assert response.status_code == 500
    page = response.content.decode()
    assert "出错" in page
    assert 'class="topbar"' in page
    assert "ZeroDivisionError" not in page
    assert "Traceback" not in page
    api = client.get("/api/v1/boom/bug")
    assert api.status_code == 500
    assert api.json()["code"] == "server_error"


@pytest.mark.urls("safetrain.core.tests.error_urls")
def test_ops_01_an_unreachable_database_is_a_chinese_503_page_and_api_json(client):
    response = client.get("/boom/database")
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "服务暂时不可用" in page
    assert 'class="topbar"' in page
    assert "5432" not in page
    api = client.get("/api/v1/boom/database")
    assert api.status_code == 503
    body = api.json()
    assert body["code"] == "service_unavailable"
    assert "稍后" in body["message"]


@pytest.mark.urls("safetrain.core.tests.error_urls")
def test_ops_01_an_unreachable_redis_anywhere_in_the_cause_chain_is_a_503(client):
    assert client.get("/boom/redis").status_code == 503


@pytest.mark.urls("safetrain.core.tests.error_urls")
def test_ux_02_the_error_page_follows_the_language_the_user_chose(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/boom/database")
    assert response.status_code == 503
    assert "Service temporarily unavailable" in response.content.decode()
    assert 'lang="en"' in response.content.decode()
