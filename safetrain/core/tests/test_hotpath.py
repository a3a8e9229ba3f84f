"""core.hotpath: the entry in front of Django for heartbeats and exam answers (LRN-01, EXM-04 at exam-day scale):
its routing and hand-over to the full stack under WSGI and ASGI, its page keys, and its database path (psycopg's
pipeline mode and prepared statements on PostgreSQL, Django's transaction elsewhere)."""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import secrets
import weakref

import environ
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import IntegrityError, OperationalError, connection
from django.db.utils import ConnectionHandler
from django.test import override_settings

from conftest import make_user
from safetrain.accounts.models import AuthSession
from safetrain.core.hotpath import db as hotdb
from safetrain.core.hotpath import dispatch, keys
from safetrain.core.hotpath.asgi import HotPathASGI

PATH = "/api/v1/test-hot/12/things"


@pytest.fixture
def routes(db):  # (the entry tidies the database connection, as Django does per request)
    """A route of the tests' own, its calls, and what it answers (set by each test)."""
    calls = []
    behaviour = {"answer": (200, {"ok": True, "text": "中文"})}

    def handler(request, conn):
        calls.append(request)
        if isinstance(behaviour["answer"], Exception):
            raise behaviour["answer"]
        return behaviour["answer"]

    saved = list(dispatch.ROUTES)
    dispatch.route_register(
        name="test_hot",
        method="PUT",
        pattern=r"/api/v1/test-hot/(\d+)/things",
        key_header="HTTP_X_TEST_KEY",
        handler=handler,
    )
    yield calls, behaviour
    dispatch.ROUTES[:] = saved


def full_stack(seen):
    def app(environ, start_response):
        seen.append(environ["wsgi.input"].read())
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"django"]

    return app


def wsgi(app, body=b'{"v": 1}', method="PUT", path=PATH, **extra):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_TEST_KEY": "k",
        "HTTP_AUTHORIZATION": "Bearer secret-token",
        **extra,
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    content = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], content


def test_lrn_01_a_registered_route_answers_with_the_apis_headers_and_its_timing(routes):
    calls, _ = routes
    seen = []
    status, headers, content = wsgi(dispatch.HotPath(full_stack(seen)))
    assert status == "200 OK"
    assert json.loads(content) == {"ok": True, "text": "中文"}
    assert headers["Server-Timing"].startswith("test_hot;dur=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert seen == []
    (request,) = calls
    assert (request.args, request.key, request.credential, request.body) == (
        ("12",),
        "k",
        ("secret-token", dispatch.SIGNIN_API),
        b'{"v": 1}',
    )


def test_lrn_01_a_session_cookie_is_the_credential_when_there_is_no_bearer_token(routes, settings):
    calls, _ = routes
    cookie = f"csrftoken=x; {settings.SESSION_COOKIE_NAME}=browser-key"
    wsgi(dispatch.HotPath(full_stack([])), HTTP_AUTHORIZATION="", HTTP_COOKIE=cookie)
    assert calls[0].credential == ("browser-key", dispatch.SIGNIN_WEB)


@pytest.mark.parametrize(
    "change",
    [
        {"method": "POST"},  # another method
        {"path": "/api/v1/test-hot/x/things"},  # not the route's pattern
        {"HTTP_X_TEST_KEY": ""},  # no page key
        {"body": b""},  # no body
        {"body": b"x" * (dispatch.MAX_BODY + 1)},  # too large for a hot path
        {"CONTENT_LENGTH": "many"},
    ],
)
def test_lrn_01_what_is_not_a_hot_request_goes_to_the_full_stack_untouched(routes, change):
    calls, _ = routes
    seen = []
    status, _headers, content = wsgi(dispatch.HotPath(full_stack(seen)), **change)
    assert (status, content, calls) == ("418 I'm a teapot", b"django", [])
    if "body" in change and change["body"]:
        assert seen == [change["body"]]  # the body is still there for Django to read


def test_lrn_01_no_sign_in_at_all_goes_to_the_full_stack_which_refuses_it(routes):
    calls, _ = routes
    status, _h, _c = wsgi(dispatch.HotPath(full_stack([])), HTTP_AUTHORIZATION="")
    assert status.startswith("418")
    assert calls == []


def test_lrn_01_a_handler_that_declines_hands_the_request_over_with_its_body(routes):
    calls, behaviour = routes
    behaviour["answer"] = None
    seen = []
    status, _headers, content = wsgi(dispatch.HotPath(full_stack(seen)), body=b'{"v": 2}')
    assert (status, content, seen, len(calls)) == ("418 I'm a teapot", b"django", [b'{"v": 2}'], 1)


def test_ops_01_a_database_failure_is_a_503_in_chinese_and_nothing_else(routes):
    _calls, behaviour = routes
    behaviour["answer"] = OperationalError("the server closed the connection")
    status, headers, content = wsgi(dispatch.HotPath(full_stack([])))
    assert status == "503 Service Unavailable"
    assert json.loads(content) == {"code": "unavailable", "message": "服务繁忙，请稍后重试。"}
    assert headers["Server-Timing"] == "test_hot"


# ASGI serves the same routes ----------------------------------------------------------------------------------


def asgi_call(app, body=b'{"v": 1}', method="PUT", path=PATH, headers=None, chunks=1):
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "client": ("127.0.0.1", 5000),
        "headers": headers
        if headers is not None
        else [
            (b"x-test-key", b"k"),
            (b"authorization", b"Bearer secret-token"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def run():
        communicator = ApplicationCommunicator(app, scope)
        step = max(1, len(body) // chunks)
        parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        for index, part in enumerate(parts):
            await communicator.send_input(
                {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
            )
        start = await communicator.receive_output(30)
        message = await communicator.receive_output(30)
        await communicator.wait(30)
        return start["status"], dict(start["headers"]), message["body"]

    return async_to_sync(run)()


def django_asgi(seen):
    async def app(scope, receive, send):
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})

    return app


def test_ops_06_asgi_serves_the_same_hot_routes(routes):
    calls, _ = routes
    seen = []
    status, headers, content = asgi_call(HotPathASGI(django_asgi(seen)), chunks=3)
    assert status == 200
    assert json.loads(content) == {"ok": True, "text": "中文"}
    assert headers[b"server-timing"].startswith(b"test_hot;dur=")
    assert seen == []
    assert calls[0].credential == ("secret-token", dispatch.SIGNIN_API)
    assert calls[0].body == b'{"v": 1}'


def test_ops_06_asgi_hands_what_a_handler_declines_to_django_with_its_body(routes):
    _calls, behaviour = routes
    behaviour["answer"] = None
    seen = []
    status, _headers, content = asgi_call(HotPathASGI(django_asgi(seen)), body=b'{"v": 3}')
    assert (status, content, seen) == (418, b"django", [b'{"v": 3}'])


def test_ops_06_asgi_passes_other_requests_through(routes):
    calls, _ = routes
    seen = []
    status, _h, _c = asgi_call(HotPathASGI(django_asgi(seen)), path="/api/v1/other")
    assert status == 418
    assert calls == []
    assert seen == [b'{"v": 1}']


def test_ops_06_the_production_asgi_entry_has_the_hot_paths():
    from config.asgi import application

    assert isinstance(application, HotPathASGI)
    assert {r.name for r in dispatch.ROUTES} >= {"heartbeat", "exam_answer"}


def test_ops_06_the_production_wsgi_entry_has_the_hot_paths():
    from config.wsgi import application, hot_path

    assert application.app is hot_path
    assert isinstance(hot_path, dispatch.HotPath)


# Page keys ----------------------------------------------------------------------------------------------------


def test_lrn_01_a_page_key_opens_one_object_for_one_sign_in():
    key = keys.page_key("study", 7, 3)
    assert keys.page_key_matches(key, "study", 7, 3)
    assert not keys.page_key_matches(key, "study", 8, 3)  # another session
    assert not keys.page_key_matches(key, "study", 7, 4)  # another sign-in
    assert not keys.page_key_matches(key, "exam", 7, 3)  # another purpose
    assert not keys.page_key_matches("", "study", 7, 3)
    assert not keys.page_key_matches(key, "study", 7, None)


def test_ops_06_page_keys_survive_a_secret_key_rotation(settings):
    old = keys.page_key("exam", 5, 9)
    with override_settings(
        SECRET_KEY="a-new-secret-key-0123456789-abcdefghijklmnop", SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]
    ):
        assert keys.page_key_matches(old, "exam", 5, 9)
        assert keys.page_key("exam", 5, 9) != old
    with override_settings(
        SECRET_KEY="a-new-secret-key-0123456789-abcdefghijklmnop", SECRET_KEY_FALLBACKS=[]
    ):
        assert not keys.page_key_matches(old, "exam", 5, 9)


# The database path ------------------------------------------------------------------------------------------

AT = dt.datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=dt.UTC)
READ = hotdb.Row(
    [
        hotdb.Column("a", AuthSession, "id"),
        hotdb.Column("a", AuthSession, "last_seen_at"),
        hotdb.Column("a", AuthSession, "face_failures"),
        hotdb.Column("a", AuthSession, "ended_at"),
        "1 + 1",
    ]
)
SQL = f"SELECT {READ.sql} FROM accounts_authsession a WHERE a.key_digest = %s"


def _session(user_id: int, digest: str) -> hotdb.Statement:
    return hotdb.insert(
        AuthSession,
        user=user_id,
        kind="api",
        key_digest=digest,
        created_at=AT,
        last_seen_at=AT,
        face_failures=0,
        ip="",
        user_agent="",
        end_reason="",
    )


def _hot_transaction_writes_reads_and_rolls_back(connection, user_id):
    with hotdb.HotTransaction(connection) as tx:
        tx.execute(_session(user_id, "d1"))
        tx.execute(
            hotdb.add_to(
                AuthSession,
                unique=("key_digest",),
                key={"key_digest": "d1"},
                amounts={"face_failures": 2},
                defaults={
                    "user": user_id,
                    "kind": "api",
                    "created_at": AT,
                    "last_seen_at": AT,
                    "ip": "",
                    "user_agent": "",
                    "end_reason": "",
                },
            )
        )
        tx.commit()
    with hotdb.HotTransaction(connection) as tx:
        row = READ.load(connection, tx.fetch_one(SQL, ["d1"]))
        assert row[1:] == [AT, 2, None, 2]
        tx.execute(hotdb.update(AuthSession, row[0], ended_at=AT + dt.timedelta(hours=1)))
        tx.commit()
    with hotdb.HotTransaction(connection) as tx:
        tx.execute(_session(user_id, "d2"))  # left without commit(): rolled back

    def twice():
        with hotdb.HotTransaction(connection) as tx:
            tx.execute(_session(user_id, "d3"))
            tx.execute(_session(user_id, "d3"))  # the same unique key: the whole transaction fails
            tx.commit()

    with pytest.raises(IntegrityError):
        twice()
    with hotdb.HotTransaction(connection) as tx:  # and the connection serves the next one
        assert READ.load(connection, tx.fetch_one(SQL, ["nothing"])) is None
        stored = READ.load(connection, tx.fetch_one(SQL, ["d1"]))
        assert stored[1:4] == [AT, 2, AT + dt.timedelta(hours=1)]
        assert tx.fetch_one(SQL, ["d2"]) is None
        assert tx.fetch_one(SQL, ["d3"]) is None


@pytest.mark.django_db
def test_lrn_01_the_hot_transaction_inside_djangos_transaction():
    _hot_transaction_writes_reads_and_rolls_back(connection, make_user().pk)


@pytest.fixture
def postgresql(request, db, django_db_blocker):
    """A connection to this machine's PostgreSQL (the suite's test database when it is PostgreSQL, as in CI), between
    requests as in production (autocommit), on a copy of the table in a schema of its own (every new connection of
    it finds the copy first): nothing outlives the test. Its prepare_threshold is the test's parameter (1, as
    settings sets it; None with DB_PREPARED_STATEMENTS=false)."""
    if connection.vendor == "postgresql":
        settings_dict = dict(connection.settings_dict)
    else:
        settings_dict = environ.Env.db_url_config("postgres://postgres@127.0.0.1:5432/test")
    schema = f"hotpath_{secrets.token_hex(4)}"
    settings_dict["OPTIONS"] = {
        "prepare_threshold": getattr(request, "param", 1),
        "options": f"-c search_path={schema},public",
    }
    other = ConnectionHandler({"default": settings_dict})["default"]
    with django_db_blocker.unblock():  # (a connection of the test's own)
        with other.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {schema}")
        with other.schema_editor() as editor:
            sql, params = editor.table_sql(AuthSession)
            editor.deferred_sql.clear()  # (its foreign keys and indexes are the real table's business)
        with other.cursor() as cursor:
            cursor.execute(sql, params)
        yield other
        other.close()
        with other.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        other.close()


def test_lrn_01_the_hot_transaction_between_requests_pipelined_and_prepared_on_postgresql(postgresql):
    """Outside any transaction, as in production: libpq's pipeline mode, each statement prepared on the connection
    the first time it runs."""
    assert hotdb.HotTransaction(postgresql).pipelined
    _hot_transaction_writes_reads_and_rolls_back(postgresql, 1)
    assert postgresql.get_autocommit()
    for _ in range(3):
        with hotdb.HotTransaction(postgresql) as tx:
            tx.fetch_one(SQL, ["again"])
    with postgresql.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("FROM accounts_authsession a WHERE a.key_digest = $1" in s for s in prepared)


@pytest.mark.parametrize("postgresql", [None], indirect=True)
def test_ops_01_without_prepared_statements_the_hot_transaction_prepares_nothing(postgresql):
    """DB_PREPARED_STATEMENTS=false (behind a pooler that cannot follow prepared statements): the same transactions,
    with the same effects and errors, and nothing prepared on the connection."""
    assert hotdb.HotTransaction(postgresql).pipelined
    _hot_transaction_writes_reads_and_rolls_back(postgresql, 1)
    with postgresql.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


def test_ops_01_a_new_connection_starts_with_its_own_adapters_and_the_closed_ones_go(postgresql):
    """The dumpers, loaders and prepared names kept for a connection hold it: they must go when it is closed
    (CONN_MAX_AGE, errors), or every connection a worker ever had would stay in memory."""
    postgresql.close()  # (the fixture's own cursor keeps the connection it set up with)
    with hotdb.HotTransaction(postgresql) as tx:
        tx.fetch_one(SQL, ["x"])
    closed = weakref.ref(postgresql.connection)
    postgresql.close()
    with hotdb.HotTransaction(postgresql) as tx:
        assert tx.fetch_one(SQL, ["x"]) is None
    gc.collect()
    assert closed() is None
    assert postgresql.hot_adapted.raw is postgresql.connection


def test_ops_01_a_failed_statement_in_the_callers_transaction_leaves_it_failed_not_closed(postgresql):
    """run() inside a caller's transaction: the error is raised after the whole answer is read, and the connection
    stays open, out of pipeline mode, for the caller to roll back (as a cursor's error would)."""
    postgresql.ensure_connection()
    postgresql.set_autocommit(False)
    with pytest.raises(IntegrityError):
        hotdb.run(postgresql, [_session(1, "f1"), _session(1, "f1")])
    assert postgresql.connection is not None
    assert postgresql.connection.pgconn.pipeline_status == 0  # (pq.PipelineStatus.OFF)
    postgresql.rollback()
    postgresql.set_autocommit(True)
    with hotdb.HotTransaction(postgresql) as tx:
        assert tx.fetch_one(SQL, ["f1"]) is None  # (rolled back)


@pytest.mark.django_db
def test_lrn_01_run_sends_statements_in_the_callers_transaction():
    user = make_user()
    hotdb.run(connection, [_session(user.pk, "r1"), hotdb.update(AuthSession, 0, face_failures=1)])
    hotdb.run(connection, [])
    assert AuthSession.objects.filter(key_digest="r1").count() == 1


def test_ops_01_a_read_that_fails_before_any_write_is_the_full_stacks_to_answer(routes):
    """A dropped database connection found by the read: nothing was written, so Django answers (it connects again)."""
    _calls, behaviour = routes
    behaviour["answer"] = hotdb.ReadFailed("the server closed the connection")
    seen = []
    status, _headers, content = wsgi(dispatch.HotPath(full_stack(seen)), body=b'{"v": 4}')
    assert (status, content, seen) == ("418 I'm a teapot", b"django", [b'{"v": 4}'])
