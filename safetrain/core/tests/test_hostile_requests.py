"""OPS-06 (GB/T 22239 level 3), UX-02: hostile or malformed requests get a Chinese 400, never a 500, and every error
under /api/ is the API's Chinese JSON with a code.

Control characters (NUL above all: PostgreSQL text cannot hold it) are refused in one place, a middleware: in the
path, the query string, form fields and JSON bodies. django-ninja's own answers (a refused CSRF token, a method an
address does not take), a body past DATA_UPLOAD_MAX_MEMORY_SIZE and Django's password-length rule speak Chinese."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from django.test import Client

from conftest import PASSWORD, api_token_for, web_client_for
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.learning.tests.conftest import video_of

REFUSED = "请求中含有不允许的控制字符"


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def chinese_json(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]
    return body


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit?action=login%00",
        "/api/v1/audit?result=%00",
        "/api/v1/organisations?kind=enterprise%00",
        "/api/v1/organisations?kind=%01x",
        "/api/v1/organisations?k%00ind=enterprise",
    ],
)
def test_ops_06_a_control_character_in_an_api_query_is_a_chinese_json_400(world, api_client, url):
    response = api_client(world.operator).get(url)
    body = chinese_json(response, 400, "control_characters")
    assert REFUSED in body["message"]


def test_ops_06_a_nul_in_the_question_bank_page_query_is_a_chinese_page_400(world):
    course = course_create(code="SEC-Q", title="课程")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    published_programme("sec-q", [course], profile="tianjin_ce")
    client = web_client_for(world.operator)
    assert client.get("/assessment/questions/?programme=sec-q").status_code == 200
    response = client.get("/assessment/questions/?programme=sec-q%00")
    assert response.status_code == 400
    page = response.content.decode()
    assert REFUSED in page
    assert 'lang="zh-hans"' in page
    assert 'class="topbar"' in page


def test_ops_06_control_characters_in_form_fields_names_and_paths_are_refused(world, client):
    web = web_client_for(world.admin_nanshan)
    form = web.post("/enterprise/people/import/", {"unit": "1\x00"})
    assert form.status_code == 400
    assert REFUSED in form.content.decode()
    assert REFUSED in web.post("/enterprise/people/import/", {"un\x00it": "1"}).content.decode()
    assert REFUSED in web.post("/enterprise/people/import/", {"unit": "\x1b[2J"}).content.decode()
    # A login form with NUL in the user name: refused before it reaches the sign-in (and its lockout counters).
    login = client.post("/accounts/login/", {"username": "1101\x00", "password": "x"})
    assert login.status_code == 400
    assert REFUSED in login.content.decode()
    assert REFUSED in client.get("/accounts/lo%00gin/").content.decode()
    # Tab, line feed and carriage return are text a text area may hold: not refused for that.
    assert (
        "请求中含有"
        not in client.post("/accounts/login/", {"username": "a\tb\r\nc", "password": "x"}).content.decode()
    )


def test_ops_06_escaped_control_characters_in_a_json_body_are_refused(world, client):
    body = json.dumps({"username": "110101\u0000", "password": PASSWORD})
    chinese_json(
        client.post("/api/v1/auth/login", body, content_type="application/json"), 400, "control_characters"
    )
    # An escaped backslash before "u0000" is text, not a NUL; a tab is allowed.
    harmless = json.dumps({"username": "a\\u0000\tb", "password": "x"})
    response = client.post("/api/v1/auth/login", harmless, content_type="application/json")
    assert response.json()["code"] != "control_characters"


def test_ops_06_an_api_body_is_checked_whatever_its_content_type_and_encoding_say(world, client):
    """django-ninja reads any body as JSON, and json.loads takes UTF-16 too: the check may trust neither the
    Content-Type nor the encoding."""
    body = json.dumps({"username": "110101\u0000", "password": PASSWORD})
    plain = client.post("/api/v1/auth/login", body, content_type="text/plain")
    chinese_json(plain, 400, "control_characters")
    utf16 = json.dumps({"username": "110101", "password": PASSWORD}).encode("utf-16")
    chinese_json(
        client.post("/api/v1/auth/login", utf16, content_type="application/json"), 400, "bad_encoding"
    )
    # A lone surrogate escape is text no column can hold; a pair (an emoji) is fine.
    lone = json.dumps({"username": "110101\ud800", "password": PASSWORD})
    chinese_json(
        client.post("/api/v1/auth/login", lone, content_type="application/json"), 400, "control_characters"
    )
    emoji = json.dumps({"username": "110101\U0001f600", "password": "x"})
    response = client.post("/api/v1/auth/login", emoji, content_type="application/json")
    assert response.json()["code"] not in ("control_characters", "bad_encoding")


def test_ops_06_the_hot_paths_hand_odd_requests_to_django_which_refuses_them(world):
    """core.hotpath answers only well-formed heartbeats and exam answers with a page key; a NUL anywhere else is
    Django's: a 400."""
    from config.wsgi import application

    for method, path, query, body, header in [
        ("POST", "/api/v1/study-sessions/1/heartbeats", "x=%00", b'{"position": 1}', "HTTP_X_STUDY_KEY"),
        ("POST", "/api/v1/study-sessions/1\x00/heartbeats", "", b'{"position": 1}', "HTTP_X_STUDY_KEY"),
        ("POST", "/api/v1/study-sessions/1/heartbeats", "", b'{"event": "play\\u0000"}', "HTTP_X_STUDY_KEY"),
        ("PUT", "/api/v1/attempts/1/answers/2", "x=%00", b'{"value": [1]}', "HTTP_X_EXAM_KEY"),
        ("PUT", "/api/v1/attempts/1/answers/2", "", b'{"value": ["\\u0000"]}', "HTTP_X_EXAM_KEY"),
    ]:
        # (a credential, so the route's handler looks at the request and hands it over)
        extra = {header: "k\x00", "HTTP_AUTHORIZATION": "Bearer not-a-token"}
        status, headers, content = wsgi_call(application, path, query, body, extra, method)
        assert status.startswith("400"), (path, status, content)
        assert json.loads(content)["code"] == "control_characters"


def wsgi_call(
    application, path: str, query: str, body: bytes, extra: dict, method: str = "POST"
) -> tuple[str, dict, bytes]:
    from tests.test_openapi import connection_kept

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **extra,
    }
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    with connection_kept():
        content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


def test_ops_06_ux_02_a_refused_csrf_token_on_the_api_is_chinese_json(world):
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    browser.force_login(world.learner_nanshan, backend="safetrain.accounts.backends.IdentityBackend")
    response = browser.post("/api/v1/auth/logout")
    body = chinese_json(response, 403, "csrf_failed")
    assert "CSRF check Failed" not in response.content.decode()
    assert "刷新页面" in body["message"]


def test_acc_03_ux_02_a_too_short_password_on_the_api_is_refused_in_chinese(world):
    client = Client()
    token = api_token_for(client, world.learner_nanshan)
    response = client.put(
        "/api/v1/auth/password",
        {"old_password": PASSWORD, "new_password": "Ab1#"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    body = chinese_json(response, 400, "weak_password")
    assert "密码太短" in body["message"]
    assert "too short" not in body["message"]


def test_ops_06_ux_02_a_body_past_the_upload_limit_is_a_chinese_json_413(world, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({"username": "1" * 3000, "password": "x"})
    chinese_json(
        client.post("/api/v1/auth/login", body, content_type="application/json"), 413, "request_too_large"
    )
    # A page's form past the limit: the Chinese page, with the same status.
    page = client.post("/accounts/login/", {"username": "1" * 3000, "password": "x"})
    assert page.status_code == 413
    assert "数据过大" in page.content.decode()


def test_ops_06_ux_02_a_method_an_api_address_does_not_take_is_chinese_json_405(world, api_client):
    response = api_client(world.learner_nanshan).get("/api/v1/auth/logout")
    chinese_json(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_ops_06_a_number_past_what_the_database_holds_is_never_a_500(world, api_client):
    """Found by schemathesis as the unit admin: an actor id past 64 bits failed in the database on SQLite
    (OverflowError; PostgreSQL's lookup finds nothing). A value the database cannot take is bad input: 422."""
    response = api_client(world.admin_nanshan).get("/api/v1/audit?actor_id=99999999999999999999999")
    if connection.vendor == "sqlite":
        body = chinese_json(response, 422, "out_of_range")
        assert "超出" in body["message"]
    else:
        assert response.status_code == 200
        assert response.json() == []
