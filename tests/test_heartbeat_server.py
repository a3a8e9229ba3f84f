"""The heartbeat's hot path in a real server process (LRN-01): granian, the production server, serves config.wsgi's
entry and config.asgi's, on the suite's own database kind (a fresh PostgreSQL database when the suite runs on
PostgreSQL, as in CI, else SQLite). Outside any test transaction the hot path runs exactly as in production: on
PostgreSQL BEGIN with the prepared locked read, the writes with the COMMIT; what it answered is what the database
holds, and a connection the database drops is picked up again without losing a beat."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.demo_server import manage, start_demo_server

PG = os.environ.get("DATABASE_URL", "")


def call(url: str, method: str, body: dict | None = None, **headers: str) -> tuple[int, dict, dict]:
    data = json.dumps(body or {}).encode() if method != "GET" else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.fixture(scope="module", params=["granian-1", "granian-asgi"])
def server(request, tmp_path_factory):
    overrides = {}
    database = ""
    if PG.startswith("postgres"):
        database = f"safetrain_hotpath_{secrets.token_hex(4)}"
        admin = PG.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {database}"], check=True)
        overrides["DATABASE_URL"] = PG.rsplit("/", 1)[0] + f"/{database}"
    # The production server (granian, WSGI) in front of the production entry point.
    demo = start_demo_server(tmp_path_factory.mktemp("hotpath"), server=request.param, **overrides)
    yield demo
    demo.process.terminate()
    demo.process.wait(timeout=20)
    if database:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=True)


def signed_in_learner(server) -> str:
    account = server.account("learner")
    status, _h, data = call(
        f"{server.url}/api/v1/auth/login",
        "POST",
        {"username": account["username"], "password": account["password"]},
    )
    assert status == 200, data
    token = data["token"]
    status, _h, data = call(
        f"{server.url}/api/v1/auth/password",
        "PUT",
        {"old_password": account["password"], "new_password": "Study#2026ok"},
        Authorization=f"Bearer {token}",
    )
    assert status == 200, data
    return token  # the token that changed the password stays signed in


def test_lrn_01_a_real_server_credits_hot_path_beats_and_survives_a_dropped_connection(server):
    token = signed_in_learner(server)
    auth = {"Authorization": f"Bearer {token}"}
    status, _h, enrolments = call(f"{server.url}/api/v1/enrollments", "GET", **auth)
    assert status == 200, enrolments
    lesson = next(
        lesson
        for enrolment in enrolments
        for course in enrolment["courses"]
        for lesson in course["lessons"]
        if lesson["duration_seconds"] > 15
    )
    status, _h, session = call(
        f"{server.url}/api/v1/study-sessions", "POST", {"lesson_id": lesson["id"]}, **auth
    )
    assert status == 200, session
    path = f"/api/v1/study-sessions/{session['id']}/heartbeats"
    headers = {"X-Study-Key": session["heartbeat_key"], **auth, "Content-Type": "application/json"}
    interval = session["heartbeat_interval"]
    position, credited, answers = session["resume_position"], 0.0, []
    # One keep-alive connection, as a browser holds it: the server's thread, and its database connection, stay.
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)

    def beat(seq: int, **flags) -> tuple[int, dict, dict]:
        nonlocal position, credited
        time.sleep(interval)
        position += interval
        body = {
            "seq": seq,
            "position": position,
            "playing": True,
            "visible": True,
            "focused": True,
            "rate": 1,
        }
        connection.request("POST", path, json.dumps({**body, **flags}), headers)
        response = connection.getresponse()
        data = json.loads(response.read())
        assert response.status == 200, data
        credited += data["credited_seconds"]
        return response.status, response.headers, data  # names looked up case-insensitively (granian: lower)

    def fast(answer_headers: dict) -> bool:
        return "heartbeat;dur=" in answer_headers.get("Server-Timing", "")

    for seq in range(1, 4):
        answers.append(beat(seq))
    # Answered by the hot path (its Server-Timing header), crediting what the wall clock allowed.
    assert all(fast(answer_headers) for _s, answer_headers, _d in answers)
    assert 2 * interval <= credited <= 3 * (interval + 3)
    # A hidden page: nothing credited, and a suspicious event, which the full stack writes (the hot path rolled its
    # transaction back and handed the beat over); the connection is left clean for the next beat.
    _s, answer_headers, data = beat(4, visible=False)
    assert not fast(answer_headers)
    assert data["credited_seconds"] == 0
    assert "hidden" in data["reasons"]

    if PG.startswith("postgres"):
        # The database drops the server's connections: the next beat goes to the full stack (no Server-Timing),
        # which connects again and answers it; the one after is fast again.
        database = server.env["DATABASE_URL"].rsplit("/", 1)[1]
        subprocess.run(
            [
                "psql",
                PG,
                "-qc",
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
                "AND pid <> pg_backend_pid()",
            ],
            check=True,
        )
        _s, answer_headers, data = beat(5)
        assert not fast(answer_headers)
    else:
        _s, answer_headers, data = beat(5)
        assert fast(answer_headers)
    assert data["state"] == "active"
    _s, answer_headers, data = beat(6)
    assert fast(answer_headers)
    assert data["credited_seconds"] > 0
    # Another process lowers the profile's daily cap to nothing (a queryset update, committed): the very next beat
    # reads it (LRN-04).
    manage(
        server.env,
        "shell",
        "-c",
        "from safetrain.catalog.models import RegionProfile; "
        "from safetrain.learning.models import StudySession; "
        f"s = StudySession.objects.select_related('enrolment__programme').get(pk={session['id']}); "
        "RegionProfile.objects.filter(pk=s.enrolment.programme.profile_id).update(daily_cap_class_hours=0)",
    )
    _s, answer_headers, data = beat(7)
    assert fast(answer_headers)
    assert data["credited_seconds"] == 0
    assert data["next_action"] == "daily_cap_reached"
    connection.close()

    # What the learner was told is what the database holds, in every place that holds credit.
    out = manage(
        server.env,
        "shell",
        "-c",
        "import json; from django.db.models import Sum; "
        "from safetrain.learning.models import StudySession, StudyRecord, SuspiciousEvent; "
        f"s = StudySession.objects.select_related('progress').get(pk={session['id']}); "
        "r = StudyRecord.objects.filter(session=s, kind='heartbeat').aggregate(t=Sum('credited_seconds'))['t']; "
        "n = StudyRecord.objects.filter(session=s, kind='heartbeat').count(); "
        "e = list(SuspiciousEvent.objects.filter(session=s).values_list('kind', flat=True)); "
        "print(json.dumps([s.credited_seconds, s.progress.credited_seconds, r, n, e]))",
    )
    session_total, progress_total, record_total, beats, events = json.loads(out.strip().splitlines()[-1])
    assert beats == 7
    assert events == ["hidden"]
    assert session_total == pytest.approx(credited, abs=0.01)
    assert progress_total == pytest.approx(credited, abs=0.01)
    assert record_total == pytest.approx(credited, abs=0.01)
