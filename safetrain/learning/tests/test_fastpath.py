"""The heartbeat fast path (learning.fastpath, LRN-01 at scale): a beat with the page's key is answered by the
production WSGI entry without the page stack, with exactly the API's crediting; everything that is not the plain
case is handed to the full stack, which answers it as the API does. (Every crediting rule is also proven through
the fast path: test_crediting runs each test both ways.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from safetrain.accounts.models import AuthSession, User
from safetrain.core.crypto import token_digest
from safetrain.learning.models import Enrolment, StudyRecord, StudySession
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import Player, wsgi_post

BEAT = {"seq": 1, "position": 15, "playing": True, "visible": True, "focused": True, "rate": 1}


def beat_path(player: Player) -> str:
    return f"/api/v1/study-sessions/{player.session['id']}/heartbeats"


def bearer_token(client) -> str:
    return client.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


def test_lrn_01_the_page_gets_a_heartbeat_key_and_only_its_digest_is_stored(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    key = player.session["heartbeat_key"]
    assert len(key) >= 40
    session = StudySession.objects.get(pk=player.session["id"])
    assert session.key_digest == token_digest(key)
    assert key not in session.key_digest
    # The key belongs to the sign-in that opened the page.
    assert session.auth_session.user_id == world.learner_nanshan.pk


def test_lrn_01_a_wrong_key_or_no_key_is_the_full_stacks_to_answer(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    clock.shift(15)
    # A wrong key: the full stack answers with the bearer token, as the API always did.
    answer = wsgi_post(client, beat_path(player), BEAT, x_study_key="wrong")
    assert answer.delegated
    assert answer.status_code == 200
    assert answer.json()["credited_seconds"] == pytest.approx(15)
    # A wrong key and no other credentials: refused by the full stack, nothing recorded.
    client.defaults.pop("HTTP_AUTHORIZATION")
    before = StudyRecord.objects.count()
    answer = wsgi_post(client, beat_path(player), {**BEAT, "seq": 2}, x_study_key="wrong")
    assert answer.delegated
    assert answer.status_code in (401, 403)  # the browser session left without its CSRF token
    assert StudyRecord.objects.count() == before


def test_lrn_01_a_key_opens_only_its_own_session(lesson, world, api_client, clock):
    mine = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    programme = Enrolment.objects.get(learner=world.learner_nanshan).programme
    enrolment_create(learner=world.learner_futian, programme=programme)
    theirs = Player(api_client(world.learner_futian), clock, lesson.pk, via="fast")
    clock.shift(15)
    # My key sent for their (real, playing) session, with no other credentials: not theirs to credit.
    stranger = api_client(world.learner_nanshan)
    stranger.defaults.pop("HTTP_AUTHORIZATION")
    answer = wsgi_post(stranger, beat_path(theirs), BEAT, x_study_key=mine.session["heartbeat_key"])
    assert answer.delegated
    assert answer.status_code in (401, 403)
    assert StudyRecord.objects.filter(kind="heartbeat").count() == 0
    # Their own key works for them.
    assert theirs.beat(wait=0, advance=0)["state"] == "active"
    assert theirs.delegated == 0


@pytest.mark.parametrize(
    "rule", ["must_change_password", "password_expired", "deactivated", "face_check_pending"]
)
def test_acc_03_the_account_rules_stop_the_fast_path_as_they_stop_the_api(
    lesson, world, api_client, clock, settings, rule
):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    player.beat()
    assert player.delegated == 0
    user = User.objects.get(pk=world.learner_nanshan.pk)
    if rule == "must_change_password":
        user.must_change_password = True
    elif rule == "password_expired":
        user.password_changed_at = timezone.now() - dt.timedelta(days=settings.PASSWORD_MAX_AGE_DAYS + 1)
    elif rule == "deactivated":
        user.is_active = False
    user.save()
    if rule == "face_check_pending":
        settings.FACE_CHECK_AT_LOGIN = True
        AuthSession.objects.filter(user=user).update(face_verified_at=None)
    for seq in (2, 3):  # refused every time, not only once per account-check interval
        clock.shift(15)
        answer = wsgi_post(
            client,
            beat_path(player),
            {**BEAT, "seq": seq, "position": 15 * seq},
            x_study_key=player.session["heartbeat_key"],
        )
        assert answer.delegated
        assert answer.status_code in (401, 403)
    assert StudyRecord.objects.filter(kind="heartbeat").count() == 1


def test_lrn_01_only_the_exact_heartbeat_path_is_answered_here(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    clock.shift(15)
    answer = wsgi_post(client, beat_path(player) + "\n", BEAT, x_study_key=player.session["heartbeat_key"])
    assert answer.delegated


def test_acc_05_a_signed_out_sign_in_stops_the_fast_path_at_once(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    player.beat()
    AuthSession.objects.filter(user=world.learner_nanshan).update(
        ended_at=timezone.now(), end_reason="logout"
    )
    clock.shift(15)
    answer = wsgi_post(
        client,
        beat_path(player),
        {**BEAT, "seq": 2, "position": 30},
        x_study_key=player.session["heartbeat_key"],
    )
    assert answer.delegated
    assert answer.status_code == 401
    assert answer.json()["code"] == "session_ended"
    assert StudyRecord.objects.filter(kind="heartbeat").count() == 1


def test_acc_05_the_full_account_rules_run_at_least_every_check_interval(
    lesson, world, api_client, clock, settings
):
    """A sign-in not seen for HEARTBEAT_ACCOUNT_CHECK_SECONDS goes through the full stack once, which touches it
    (keeping a browser session alive while a video plays); the beats after that are fast again."""
    settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS = 60
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    for _ in range(4):
        player.beat()  # 15, 30, 45, 60 s after the sign-in was last seen: fast
    assert player.delegated == 0
    player.beat()  # 75 s: the full stack
    assert player.delegated == 1
    signin = AuthSession.objects.get(user=world.learner_nanshan, ended_at__isnull=True)
    assert signin.last_seen_at == timezone.now()  # touched by the full stack's account rules
    for _ in range(3):
        player.beat()
    assert player.delegated == 1
    assert player.credited == pytest.approx(8 * 15)


def test_lrn_01_a_malformed_beat_gets_the_apis_field_messages(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    answer = wsgi_post(
        client, beat_path(player), {**BEAT, "rate": "fast"}, x_study_key=player.session["heartbeat_key"]
    )
    assert answer.delegated
    assert answer.status_code == 422
    answer = wsgi_post(client, beat_path(player), b"{not json", x_study_key=player.session["heartbeat_key"])
    assert answer.delegated
    assert answer.status_code in (400, 422)
    assert StudyRecord.objects.filter(kind="heartbeat").count() == 0


def test_anti_03_a_replaced_page_is_told_by_the_full_stack(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    first = Player(client, clock, lesson.pk, via="fast")
    first.beat()
    Player(client, clock, lesson.pk, via="fast")  # the same learner opens the lesson elsewhere
    clock.shift(15)
    answer = wsgi_post(
        client,
        beat_path(first),
        {**BEAT, "seq": 2, "position": 30},
        x_study_key=first.session["heartbeat_key"],
    )
    assert answer.delegated
    assert answer.status_code == 200
    assert answer.json()["next_action"] == "signed_out"
    assert answer.json()["credited_seconds"] == 0


def test_lrn_01_the_one_query_read_loads_the_same_values_as_the_orm(lesson, world, api_client, clock):
    """Every value the heartbeat's read loads is the ORM's, field by field (the partial rows of the programme,
    profile and video included)."""
    from django.db import transaction

    from safetrain.learning.heartbeat_read import locked_session

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    player.beat()
    orm = StudySession.objects.select_related(
        "progress", "enrolment__programme__profile", "lesson__video", "auth_session__user"
    ).get(pk=player.session["id"])
    with transaction.atomic():
        session, signin = locked_session(
            session_id=orm.pk,
            today=timezone.localdate(),
            key_digest=token_digest(player.session["heartbeat_key"]),
            credential_digest=token_digest(bearer_token(player.client)),
        )
    pairs = [
        (session, orm),
        (session.progress, orm.progress),
        (session.enrolment, orm.enrolment),
        (session.enrolment.programme, orm.enrolment.programme),
        (session.enrolment.programme.profile, orm.enrolment.programme.profile),
        (session.lesson, orm.lesson),
        (session.lesson.video, orm.lesson.video),
    ]
    for loaded, expected in pairs:
        # instances as the ORM loads them: from the database, saved by an update, never as new rows
        assert (loaded._state.adding, loaded._state.db) == (False, "default")
        deferred = loaded.get_deferred_fields()
        for field in type(expected)._meta.concrete_fields:
            if field.attname not in deferred:
                assert getattr(loaded, field.attname) == getattr(expected, field.attname), field
                assert type(getattr(loaded, field.attname)) is type(getattr(expected, field.attname)), field
            else:  # a field the read leaves out loads when it is read
                assert getattr(loaded, field.attname) == getattr(expected, field.attname), field
    assert (
        session.enrolment.programme.profile.face_timeout_seconds
        == orm.enrolment.programme.profile.face_timeout_seconds
    )
    assert session.lesson.duration_seconds == orm.lesson.duration_seconds
    assert (signin.ended_at, signin.last_seen_at) == (
        orm.auth_session.ended_at,
        orm.auth_session.last_seen_at,
    )
    assert (signin.user_active, signin.must_change_password) == (True, False)


@pytest.mark.parametrize(
    "body",
    [
        BEAT,
        {**BEAT, "extra": "ignored"},
        {**BEAT, "seq": "7", "playing": "true"},  # what pydantic's lax mode accepts
        {**BEAT, "seq": 0},
        {**BEAT, "seq": 10_000_001},
        {**BEAT, "rate": 17},
        {**BEAT, "position": "far"},
        {key: value for key, value in BEAT.items() if key != "focused"},
        [],
    ],
)
def test_lrn_01_the_fast_path_reads_a_body_exactly_as_the_api_does(body):
    """The fast path's body model (plain pydantic) accepts what the API's schema accepts, with the same values,
    and refuses what it refuses (a refused body goes to the full stack, which answers with the API's messages)."""
    import json

    from pydantic import ValidationError

    from safetrain.learning.api import HeartbeatIn
    from safetrain.learning.fastpath import _Beat

    raw = json.dumps(body).encode()
    outcomes = []
    for model in (HeartbeatIn, _Beat):
        try:
            outcomes.append(model.model_validate_json(raw).model_dump())
        except ValidationError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


def test_lrn_01_a_saved_instance_from_the_read_writes_only_what_changed(lesson, world, api_client, clock):
    """The read's instances are built without Model.__init__: saving one behaves as saving an ORM instance."""
    from django.db import transaction

    from safetrain.learning.heartbeat_read import locked_session
    from safetrain.learning.models import LessonProgress

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    player.beat()
    with transaction.atomic():
        session, _signin = locked_session(
            session_id=player.session["id"],
            today=timezone.localdate(),
            key_digest=token_digest(player.session["heartbeat_key"]),
            credential_digest=token_digest(bearer_token(player.client)),
        )
        session.progress.cancelled_seconds = 5
        session.progress.save(update_fields=["cancelled_seconds"])
        session.enrolment.save()  # the fields the read left out are not overwritten
    progress = LessonProgress.objects.get(pk=session.progress.pk)
    assert progress.cancelled_seconds == 5
    assert progress.credited_seconds == pytest.approx(15)
    assert Enrolment.objects.get(pk=session.enrolment.pk).opened_on == session.enrolment.opened_on


def _synchronous_commit() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("wait", [False, True])
def test_lrn_01_a_beats_transaction_waits_for_the_disk_only_when_configured(
    wait, lesson, world, api_client, clock, settings
):
    """HEARTBEAT_WAIT_FOR_FLUSH=false (the default): the beat's own transaction commits without waiting for its WAL
    to reach the disk (PostgreSQL's SET LOCAL synchronous_commit); nothing else is changed by it."""
    from django.db import connection

    settings.HEARTBEAT_WAIT_FOR_FLUSH = wait
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    clock.shift(15)
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        assert _synchronous_commit() == "on"  # the test's transaction before the beat
    answer = wsgi_post(client, beat_path(player), BEAT, x_study_key=player.session["heartbeat_key"])
    assert not answer.delegated
    assert answer.json()["credited_seconds"] == pytest.approx(15)
    assert StudyRecord.objects.filter(kind="heartbeat", accepted=True).count() == 1
    if postgresql:
        # (the test runs in one transaction: the beat's setting is still in force in it)
        assert _synchronous_commit() == ("on" if wait else "off")


@pytest.mark.parametrize(
    "text",
    [
        "[[0, 12.5], [30, 45.25]]",
        "[]",
        '["paused", "daily_cap"]',
        '{"a": 1, "a": 2}',  # the last of a repeated key, as json.loads
        '{"b": [1, -0.0, 2.5e-7], "a": {"c": 1.5, "d": [true, "x"]}}',  # in dicts too, in their order
        "-0",
        "-0.0",
        "0.1",
        "1E5",
        "[1.0000000000000002, 5e-324]",
        '"\\u00e9\\u5b89"',
        "[true, false, null]",
        "9223372036854775807",  # the largest 64-bit integer (19 digits: Django's loader)
        "-9223372036854775809",
        "18446744073709551616",  # 2**64, which orjson would make a float
        "10000000000000000000000",  # how PostgreSQL writes a jsonb number of 1e22
        "1e400",  # beyond a float: infinity for json.loads, refused by orjson
        "NaN",
        '"\\ud800"',  # a lone surrogate
        "not json",  # Django's loader returns the text as it is
    ],
)
def test_lrn_01_the_reads_json_loader_gives_exactly_djangos_values(text):
    """The heartbeat's read parses JSON columns with orjson; every value is the one Django's JSONField loads, of the
    same type, including the texts orjson reads differently or refuses (which go to Django's loader)."""
    import math

    from safetrain.learning.heartbeat_read import _faster
    from safetrain.learning.models import LessonProgress

    field = LessonProgress._meta.get_field("watched")
    (django_loader,) = field.get_db_converters(None)
    loader = _faster(django_loader)
    assert loader is not django_loader  # the quicker loader is the one in use

    def same(a, b) -> bool:
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, dict):
            return isinstance(b, dict) and list(a) == list(b) and all(map(same, a.values(), b.values()))
        if isinstance(a, float):
            return type(b) is float and a == b and math.copysign(1, a) == math.copysign(1, b)
        return type(a) is type(b) and a == b

    expected = django_loader(text, None, None)
    assert same(loader(text, None, None), expected), (text, expected)
    assert loader(None, None, None) is None


def test_lrn_01_the_read_keeps_a_json_fields_own_decoder():
    """A JSON field with a decoder of its own keeps Django's loader (orjson knows nothing of the decoder)."""
    import json

    from django.db import models

    from safetrain.learning.heartbeat_read import _faster

    field = models.JSONField(decoder=json.JSONDecoder)
    (django_loader,) = field.get_db_converters(None)
    assert _faster(django_loader) is django_loader


@pytest.mark.parametrize(
    "case", ["in_use", "past_its_age", "autocommit_changed", "error_usable", "error_broken"]
)
def test_lrn_01_the_fast_path_drops_a_connection_exactly_when_django_would(
    case, django_db_setup, django_db_blocker
):
    """Between beats the fast path tidies its database connection as Django does at the start and end of each
    request (close_if_unusable_or_obsolete), without that method's cost when there is nothing to do: the same
    connection state comes out of both."""
    import time

    from django.db import connections

    from safetrain.learning.fastpath import _tidy_connection

    outcomes = []
    for tidy in (_tidy_connection, lambda c: c.close_if_unusable_or_obsolete()):
        # a connection of its own, outside any test transaction, as the fast path's is between requests
        connection = connections.create_connection("default")
        closed = []
        close = connection.close

        def closing(close=close, closed=closed) -> None:
            closed.append(True)
            close()

        connection.close = closing  # (an in-memory SQLite database stays open when closed: the call tells)
        with django_db_blocker.unblock():
            try:
                connection.ensure_connection()
                connection.health_check_done = True
                if case == "past_its_age":
                    connection.close_at = time.monotonic() - 1
                elif case == "autocommit_changed":
                    connection.set_autocommit(False)
                elif case.startswith("error"):
                    connection.errors_occurred = True
                    if case == "error_broken":
                        if connection.vendor == "postgresql":
                            connection.connection.close()
                        else:  # (an SQLite file does not break under a test)
                            connection.is_usable = lambda: False
                tidy(connection)
                outcomes.append((bool(closed), connection.errors_occurred, connection.health_check_done))
            finally:
                close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is (case in ("past_its_age", "autocommit_changed", "error_broken"))


def test_lrn_01_the_fast_path_finds_the_threads_own_connection(django_db_setup, django_db_blocker):
    """The fast path reads this thread's default connection straight from asgiref's thread storage: the same
    object as Django's connections["default"], in a thread that has one and in a new thread that has none yet; and
    Django's own look-up in a thread running an event loop."""
    import asyncio
    import threading

    from django.db import connections

    from safetrain.learning.fastpath import _default_connection

    found = {}

    def in_a_new_thread() -> None:
        first = _default_connection()  # none yet in this thread: Django's look-up creates it
        found["new"] = (first, _default_connection(), connections["default"])
        connections["default"].close()

        async def in_a_loop():
            found["loop"] = (_default_connection(), connections["default"])

        asyncio.run(in_a_loop())

    with django_db_blocker.unblock():
        worker = threading.Thread(target=in_a_new_thread)
        worker.start()
        worker.join()
    first, again, django = found["new"]
    assert first is again is django
    assert first is not connections["default"]  # each thread its own
    assert found["loop"][0] is found["loop"][1]
    assert _default_connection() is connections["default"]
