"""INT-03: the REST API is described by OpenAPI at /api/v1/openapi.json, and schemathesis, generating requests
from that description against the production WSGI application (fast path included), finds no server error."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import api_token_for


@pytest.fixture
def api_schema(db, world):
    from config.wsgi import application

    with connection_kept():
        return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


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


@pytest.fixture
def learner_token(world):
    from django.test import Client

    return api_token_for(Client(), world.learner_nanshan)


def test_int_03_the_openapi_description_is_served_and_lists_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/v1/study-sessions" in paths
    assert "/api/v1/enrollments" in paths
    assert len(paths) >= 10


def test_int_03_generated_requests_never_get_a_server_error(api_schema, learner_token):
    """Every operation, 15 generated requests each (derandomized: the same ones every run), as a signed-in
    learner: none may answer 5xx. Signing out or changing the password would revoke the token every other
    operation uses: they are left out (their own tests are in safetrain/accounts)."""
    operations = [
        result.ok()
        for result in api_schema.get_all_operations()
        if result.ok().path not in ("/api/v1/auth/logout", "/api/v1/auth/password")
    ]
    assert len(operations) >= 10
    statuses: list[int] = []
    with connection_kept():
        for operation in operations:
            _fuzz(operation, learner_token, statuses)
    # The token stayed valid: most answers are not 401 (they are 404/422 for generated ids and bodies, or 200).
    assert sum(1 for status in statuses if status != 401) > len(statuses) * 0.8


def _fuzz(operation, learner_token, statuses: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {learner_token}"}, checks=[not_a_server_error]
        )
        statuses.append(response.status_code)

    check()
