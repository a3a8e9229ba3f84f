"""INT-03, OPS-06: the REST API is described by OpenAPI at /api/v1/openapi.json, and schemathesis, generating
requests from that description against the production WSGI application (fast path included) as a learner, the
operator and a unit's administrator, finds no server error, NUL bytes in the generated strings included."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import unquote, unquote_plus

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from safetrain.core.middleware import CONTROL, JSON_CONTROL


@pytest.fixture
def api_schema(db, world):
    from config.wsgi import application

    with connection_kept():
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    # NUL in generated strings (schemathesis' default, named here because the test depends on it).
    schema.config.generation.update(allow_x00=True)
    return schema


@contextmanager
def connection_kept():
    """The production WSGI entry is called in process. As Django's test client does, requests must not close the
    test's database connection (it holds the test's transaction): close_old_connections is unhooked meanwhile."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Who the generated requests come from: a learner, the platform's operator (who sees everything) and a unit's
# administrator, each with a bearer token; and how many requests per operation (the suite's time is counted).
PERSONAS = {
    "learner": ("learner_nanshan", 15),
    "operator": ("operator", 12),
    "unit_admin": ("admin_nanshan", 6),
}
# Signing out or changing the password would revoke the token every other operation uses: they are left out (their
# own tests are in safetrain/accounts).
REVOKING = ("/api/v1/auth/logout", "/api/v1/auth/password")


def test_int_03_the_openapi_description_is_served_and_lists_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/v1/study-sessions" in paths
    assert "/api/v1/enrollments" in paths
    assert len(paths) >= 10


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_int_03_ops_06_generated_requests_never_get_a_server_error(api_schema, world, api_client, persona):
    """Every operation, a few generated requests each (derandomized: the same ones every run), as each persona:
    none may answer 5xx. Generated strings include NUL and other control characters (schemathesis' allow-x00),
    which are refused with a 400 before they reach PostgreSQL (which cannot store NUL)."""
    name, examples = PERSONAS[persona]
    authorization = api_client(getattr(world, name)).defaults["HTTP_AUTHORIZATION"]
    operations = [
        result.ok() for result in api_schema.get_all_operations() if result.ok().path not in REVOKING
    ]
    assert len(operations) >= 10
    statuses: list[int] = []
    controls: list[int] = []
    with connection_kept():
        for operation in operations:
            _fuzz(operation, authorization, examples, statuses, controls)
    # The token stayed valid: most answers are not 401 (they are 404/422 for generated ids and bodies, or 200).
    assert sum(1 for status in statuses if status != 401) > len(statuses) * 0.8
    # Many requests carried control characters (NUL is one of them): each was refused with a 400, before anything
    # else looked at it.
    assert len(controls) >= 10
    assert set(controls) == {400}


def _fuzz(operation, authorization: str, examples: int, statuses: list[int], controls: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call_and_validate(
            headers={"Authorization": authorization}, checks=[not_a_server_error]
        )
        statuses.append(response.status_code)
        if _sent_controls(response.request):
            controls.append(response.status_code)

    check()


def _sent_controls(request) -> bool:
    """A C0 control character other than tab, line feed and carriage return in what was sent: the decoded path and
    query, a form body, or a JSON body's escapes."""
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    form = (request.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    return bool(
        CONTROL.search(unquote(request.url or ""))
        or JSON_CONTROL.search(body)
        or (form and CONTROL.search(unquote_plus(body.decode("utf-8", "replace"))))
    )
