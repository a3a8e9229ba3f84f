"""Health check, API error shapes (never a 500 for bad input), OpenAPI, customer-service footer."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD, make_user
from safetrain.accounts.identity import initial_password_for


def test_healthz_reports_database_and_cache(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "static": "ok"}


def test_ops_01_healthz_is_not_ready_before_collectstatic(db, client, settings, tmp_path):
    """Every page needs the hashed static files: a release whose collectstatic did not run is not ready."""
    settings.STATIC_ROOT = tmp_path  # an empty folder: no manifest
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    response = client.get("/healthz")  # (the settings fixture's signals reset the static storage both ways)
    assert response.status_code == 503
    assert response.json()["static"] == "error: collectstatic has not run"


def test_int_03_the_api_is_described_by_openapi(db, client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/learners",
        "/api/v1/audit",
        "/api/v1/organisations",
    ):
        assert path in spec["paths"]


@pytest.mark.parametrize(
    "body",
    ['{"username": "1", ', "not json at all", '{"username": 5, "password": []}', "{}", "[]"],
    ids=["truncated", "text", "wrong-types", "empty-object", "array"],
)
def test_malformed_api_json_gets_422_with_field_messages(db, client, body):
    response = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == 422
    data = response.json()
    assert data["code"] in {"invalid_json", "invalid_input"}
    assert data["message"]
    assert data["detail"]
    assert all("loc" in d and "msg" in d for d in data["detail"])


def test_api_login_returns_a_token_and_the_password_change_flag(db, client):
    user = make_user(password=None)
    response = client.post(
        "/api/v1/auth/login",
        {"username": user.id_number, "password": initial_password_for(user.id_number)},
        content_type="application/json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data["must_change_password"] is True
    assert data["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {data['token']}"}
    me = client.get("/api/v1/me", **auth).json()
    assert me["roles"] == []
    assert me["id_number_masked"].count("*") == 10
    # Nothing else until the password is changed.
    blocked = client.get("/api/v1/learners", **auth)
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "must_change_password"
    weak = client.put(
        "/api/v1/auth/password",
        {"old_password": initial_password_for(user.id_number), "new_password": "password"},
        content_type="application/json",
        **auth,
    )
    assert weak.status_code == 400
    assert weak.json()["code"] == "weak_password"
    ok = client.put(
        "/api/v1/auth/password",
        {"old_password": initial_password_for(user.id_number), "new_password": "Brand#New2026"},
        content_type="application/json",
        **auth,
    )
    assert ok.status_code == 200
    assert client.get("/api/v1/learners", **auth).status_code == 200


def test_api_login_failures_say_why(db, client):
    user = make_user()
    wrong = client.post(
        "/api/v1/auth/login",
        {"username": user.id_number, "password": "Nope#1234"},
        content_type="application/json",
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    for _ in range(2):
        client.post(
            "/api/v1/auth/login",
            {"username": user.id_number, "password": "Nope#1234"},
            content_type="application/json",
        )
    captcha = client.post(
        "/api/v1/auth/login",
        {"username": user.id_number, "password": PASSWORD},
        content_type="application/json",
    )
    assert captcha.status_code == 400
    assert captcha.json()["code"] == "captcha_required"
    image = captcha.json()["captcha"]["image_url"]
    assert client.get(image.replace("http://testserver", "")).status_code == 200


def test_api_token_expires_when_idle(db, settings):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    user = make_user()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = client.post(
            "/api/v1/auth/login",
            {"username": user.id_number, "password": PASSWORD},
            content_type="application/json",
        ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with time_machine.travel(start + dt.timedelta(minutes=settings.API_TOKEN_IDLE_MINUTES + 1), tick=False):
        response = client.get("/api/v1/me", **auth)
    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"


def test_ux_04_customer_service_contacts_are_on_every_page(db, client, settings):
    for url in ("/accounts/login/",):
        assert settings.CUSTOMER_SERVICE_PHONE in client.get(url).content.decode()
    user = make_user()
    client.post("/accounts/login/", {"username": user.id_number, "password": PASSWORD})
    for url in ("/", "/accounts/profile/", "/accounts/password/"):
        assert settings.CUSTOMER_SERVICE_PHONE in client.get(url).content.decode()


def test_ux_02_pages_are_chinese_by_default_and_english_on_request(db, client, settings):
    # A browser that asks for English still gets Chinese: the platform's language is Chinese ...
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "登录" in page
    # ... and English is there for whoever picks it in the switcher.
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert switched.status_code == 302
    english = client.get("/accounts/login/").content.decode()
    assert '<html lang="en">' in english
    assert "Sign in" in english
