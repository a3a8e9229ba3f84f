"""The heartbeat's hot path (learning.hotpath, LRN-01 at scale): a beat with the page's key is answered by the
production WSGI entry without the page stack, with exactly the API's crediting; everything that is not the plain
case is handed to the full stack, which answers it as the API does. (Every crediting rule is also proven through
the hot path: test_crediting runs each test both ways.)"""

from __future__ import annotations

import dataclasses
import datetime as dt

import orjson
import pytest
from django.utils import timezone

from safetrain.accounts.models import AuthSession, User
from safetrain.core.crypto import token_digest
from safetrain.core.hotpath.keys import page_key, page_key_matches
from safetrain.learning.models import Enrolment, StudyRecord, StudySession
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import Player, wsgi_post

BEAT = {"seq": 1, "position": 15, "playing": True, "visible": True, "focused": True, "rate": 1}


def beat_path(player: Player) -> str:
    return f"/api/v1/study-sessions/{player.session['id']}/heartbeats"


def bearer_token(client) -> str:
    return client.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


def test_lrn_01_the_pages_key_is_bound_to_its_session_and_sign_in_and_nothing_is_stored(
    lesson, world, api_client, clock
):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    key = player.session["heartbeat_key"]
    session = StudySession.objects.get(pk=player.session["id"])
    # The key belongs to the sign-in that opened the page, and opens only this session.
    assert session.auth_session.user_id == world.learner_nanshan.pk
    assert key == page_key("study", session.pk, session.auth_session_id)
    assert page_key_matches(key, "study", session.pk, session.auth_session_id)
    assert not page_key_matches(key, "study", session.pk + 1, session.auth_session_id)
    assert not page_key_matches(key, "study", session.pk, session.auth_session_id + 1)
    assert "key_digest" not in {f.name for f in StudySession._meta.get_fields()}


def test_lrn_01_a_session_opened_without_a_sign_in_has_no_key(lesson, world, clock):
    from safetrain.learning.crediting import study_session_open

    session = study_session_open(learner=world.learner_nanshan, lesson_id=lesson.pk)
    assert session.heartbeat_key == ""


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
def test_acc_03_the_account_rules_stop_the_hot_path_as_they_stop_the_api(
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


def test_acc_05_a_signed_out_sign_in_stops_the_hot_path_at_once(lesson, world, api_client, clock):
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
    """A sign-in not seen for HEARTBEAT_ACCOUNT_CHECK_SECONDS has every account rule applied again and is touched:
    an API token by the hot path itself (its rules are all the gate's), a browser session by the full stack
    (its session store; assessment's tests show that case)."""
    settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS = 60
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    for _ in range(5):
        player.beat()  # 15 ... 75 s after the sign-in was last seen
    assert player.delegated == 0
    signin = AuthSession.objects.get(user=world.learner_nanshan, ended_at__isnull=True)
    assert signin.last_seen_at == timezone.now()  # touched at 75 s, by the hot path
    for _ in range(3):
        player.beat()
    assert player.delegated == 0
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


def test_lrn_07_an_ended_enrolment_is_the_full_stacks_to_end(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    player.beat()
    Enrolment.objects.filter(learner=world.learner_nanshan).update(deadline=dt.date(2026, 11, 22))
    clock.shift(15)
    answer = wsgi_post(
        client,
        beat_path(player),
        {**BEAT, "seq": 2, "position": 30},
        x_study_key=player.session["heartbeat_key"],
    )
    assert answer.delegated
    assert answer.status_code == 200
    assert (answer.json()["next_action"], answer.json()["state"]) == ("signed_out", "closed")
    assert StudySession.objects.get(pk=player.session["id"]).state == "closed"


def test_face_03_an_overdue_face_check_is_the_full_stacks_to_sign_out(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    player.beat()
    StudySession.objects.filter(pk=player.session["id"]).update(
        face_due_at=timezone.now() - dt.timedelta(seconds=600)
    )
    clock.shift(15)
    answer = wsgi_post(
        client,
        beat_path(player),
        {**BEAT, "seq": 2, "position": 30},
        x_study_key=player.session["heartbeat_key"],
    )
    assert answer.delegated
    assert (answer.json()["next_action"], answer.json()["state"]) == ("signed_out", "face_failed")
    assert not AuthSession.objects.filter(user=world.learner_nanshan, ended_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("flags", "kind"), [({"rate": 2}, "rate"), ({"visible": False}, "hidden")], ids=["rate", "hidden"]
)
def test_anti_04_a_beat_to_be_flagged_is_the_full_stacks_to_record(
    lesson, world, api_client, clock, flags, kind
):
    """A suspicious event is an ORM effect: the hot path writes nothing and the full stack answers the beat."""
    from safetrain.learning.models import SuspiciousEvent

    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    data = player.beat(**flags)
    assert player.delegated == 1
    assert data["reasons"] == [kind]
    assert list(SuspiciousEvent.objects.values_list("kind", flat=True)) == [kind]
    assert StudyRecord.objects.filter(kind="heartbeat").count() == 1


def test_qz_01_the_hot_path_asks_for_the_quiz_of_a_completed_lesson_until_it_is_passed(
    lesson, world, api_client, clock
):
    from safetrain.accounts.models import AuthSession
    from safetrain.learning.models import QuizAttempt, QuizQuestion

    QuizQuestion.objects.create(
        course=lesson.chapter.course, kind="single", stem="安全帽?", options=["是", "否"], answer=[0]
    )
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    for _ in range(19):
        assert player.beat()["next_action"] == ""
    assert player.delegated == 0
    data = player.beat()
    assert (data["completed"], data["next_action"]) == (True, "quiz")
    assert (
        player.delegated == 1
    )  # the beat completing the lesson: the full stack reads whether its quiz is due
    data = player.beat(playing=False, advance=0)
    assert (data["completed"], data["next_action"]) == (True, "quiz")
    assert player.delegated == 1  # a completed lesson's read knows whether the quiz is still to pass
    enrolment = StudySession.objects.get(pk=player.session["id"]).enrolment
    QuizAttempt.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        try_number=1,
        started_at=timezone.now(),
        deadline=timezone.now(),
        submitted_at=timezone.now(),
        score=100,
        passed=True,
    )
    # (the sign-in seen again, as the full stack would have on its own: 315 s passed since, past the account check)
    AuthSession.objects.filter(pk=StudySession.objects.get(pk=player.session["id"]).auth_session_id).update(
        last_seen_at=timezone.now()
    )
    data = player.beat(playing=False, advance=0)  # (paused at the end: nothing to flag)
    assert (data["completed"], data["next_action"]) == (True, "")
    assert player.delegated == 1


def replay_both_ways(client, player, body):
    """The same beat answered by the hot path and, from the same state, by the API: both answers and the rows
    each wrote (the hot path's are rolled back before the API's beat)."""
    from django.db import transaction

    from safetrain.learning.models import DailyCredit, LessonProgress

    def rows():
        session = StudySession.objects.filter(pk=player.session["id"])
        return (
            list(session.values()),
            list(LessonProgress.objects.filter(pk=session.get().progress_id).values()),
            list(StudyRecord.objects.filter(kind="heartbeat").order_by("pk").values()),
            list(DailyCredit.objects.values()),
        )

    with transaction.atomic():
        hot = wsgi_post(client, beat_path(player), body, x_study_key=player.session["heartbeat_key"])
        assert not hot.delegated
        hot_rows = rows()
        transaction.set_rollback(True)
    api = client.post(beat_path(player), body, content_type="application/json")
    return hot, api, hot_rows, rows()


def without_ids(rows):
    return [[{k: v for k, v in row.items() if k != "id"} for row in table] for table in rows]


@pytest.mark.parametrize(
    "steps",
    [
        [(15, {})],
        [(15, {}), (3, {"position": 18, "playing": False})],  # the seconds before a pause
        [(15, {}), (60, {"position": 75})],  # a late beat: interval + tolerance, carried jitter
        [(15, {}), (15, {"position": 27})],  # a slow page
    ],
    ids=["clean", "paused-after-play", "late", "slow"],
)
def test_lrn_01_both_paths_answer_the_same_beat_with_the_same_json_and_rows(
    lesson, world, api_client, clock, steps
):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via="fast")
    for seq, (wait, changes) in enumerate(steps, start=1):
        clock.shift(wait)
        body = {**BEAT, "seq": seq, "position": 15.0 * seq, **changes}
        hot, api, hot_rows, api_rows = replay_both_ways(client, player, body)
        assert api.status_code == hot.status_code == 200
        assert hot.content == orjson.dumps(api.json())  # byte for byte, in the API's field order
        assert hot.json() == api.json()
        assert without_ids(hot_rows) == without_ids(api_rows)


def test_lrn_01_the_one_query_read_loads_the_same_values_as_the_orm(lesson, world, api_client, clock):
    """Every value of the heartbeat's read is the ORM's, of the same type: the session, its progress row, its
    enrolment, the lesson's duration, the programme's limits (its own class hour overriding the profile's), the
    learner's credit today, and the sign-in that opened the page."""
    from django.db import connection, transaction

    from safetrain.accounts.gate import SigninState
    from safetrain.core.hotpath.db import HotTransaction
    from safetrain.learning.crediting import study_day
    from safetrain.learning.heartbeats import beat_state_of_learner, beat_state_of_signin
    from safetrain.learning.models import DailyCredit

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    player.beat()
    player.beat(wait=4, advance=4, playing=False)
    programme = Enrolment.objects.get(learner=world.learner_nanshan).programme
    programme.class_hour_minutes = 40
    programme.save()
    s = StudySession.objects.select_related(
        "progress", "enrolment__programme__profile", "lesson__video", "auth_session__user"
    ).get(pk=player.session["id"])
    today = study_day(timezone.now())
    expected = {
        "session_id": s.pk,
        "learner_id": s.learner_id,
        "enrolment_id": s.enrolment_id,
        "lesson_id": s.lesson_id,
        "auth_session_id": s.auth_session_id,
        "state": s.state,
        "last_seq": s.last_seq,
        "last_accepted_at": s.last_accepted_at,
        "last_position": s.last_position,
        "last_clean_playing": s.last_clean_playing,
        "time_carry": s.time_carry,
        "credited_seconds": s.credited_seconds,
        "face_due_at": s.face_due_at,
        "progress_id": s.progress_id,
        "watched": s.progress.watched,
        "furthest_position": s.progress.furthest_position,
        "lesson_credited": s.progress.credited_seconds,
        "completed_at": s.progress.completed_at,
        "enrolment_status": s.enrolment.status,
        "deadline": s.enrolment.deadline,
        "duration": s.lesson.duration_seconds,
        "daily_cap_seconds": s.enrolment.programme.profile.daily_cap_class_hours * 40 * 60,
        "face_timeout_seconds": s.enrolment.programme.profile.face_timeout_seconds,
        "today_credit": sum(
            DailyCredit.objects.filter(learner=s.learner, day=today).values_list("seconds", flat=True)
        ),
    }
    with transaction.atomic(), HotTransaction(connection) as tx:
        state, signin = beat_state_of_signin(
            tx, session_id=s.pk, credential_digest=token_digest(bearer_token(player.client)), today=today
        )
    with transaction.atomic():
        by_learner = beat_state_of_learner(session_id=s.pk, learner_id=s.learner_id, today=today)
    # (the hot path reads whether the quiz is due for a completed lesson only; this one is not complete)
    assert (state.quiz_due, by_learner.quiz_due) == (None, False)
    assert by_learner == dataclasses.replace(state, quiz_due=False)
    for name, value in expected.items():
        loaded = getattr(state, name)
        assert (loaded, type(loaded)) == (value, type(value)), name
    assert expected["today_credit"] == pytest.approx(19)
    assert signin == SigninState.of(s.auth_session)
    assert signin.id == s.auth_session_id


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
def test_lrn_01_the_hot_path_reads_a_body_exactly_as_the_api_does(body):
    """The hot path's body model (plain pydantic) accepts what the API's schema accepts, with the same values,
    and refuses what it refuses (a refused body goes to the full stack, which answers with the API's messages)."""
    import json

    from pydantic import ValidationError

    from safetrain.learning.api import HeartbeatIn
    from safetrain.learning.hotpath import HeartbeatBody

    raw = json.dumps(body).encode()
    outcomes = []
    for model in (HeartbeatIn, HeartbeatBody):
        try:
            outcomes.append(model.model_validate_json(raw).model_dump())
        except ValidationError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


def test_lrn_01_a_beat_writes_only_its_own_columns(lesson, world, api_client, clock):
    """The hot path's writes name their columns: what else a row holds (a cancellation, the enrolment) stays."""
    from safetrain.learning.models import LessonProgress

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk, via="fast")
    player.beat()
    progress = LessonProgress.objects.get(lesson=lesson)
    LessonProgress.objects.filter(pk=progress.pk).update(cancelled_seconds=5)
    enrolment = Enrolment.objects.get(pk=progress.enrolment_id)
    player.beat()
    assert player.delegated == 0
    progress = LessonProgress.objects.get(pk=progress.pk)
    assert progress.cancelled_seconds == 5
    assert progress.credited_seconds == pytest.approx(30)
    assert Enrolment.objects.get(pk=enrolment.pk).updated_at == enrolment.updated_at


def _synchronous_commit() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("path", ["fast", "api"])
@pytest.mark.parametrize("wait", [False, True])
def test_lrn_01_a_beats_transaction_waits_for_the_disk_only_when_configured(
    wait, path, lesson, world, api_client, clock, settings
):
    """HEARTBEAT_WAIT_FOR_FLUSH=false (the default): the beat's own transaction commits without waiting for its WAL
    to reach the disk (PostgreSQL's SET LOCAL synchronous_commit), on both paths; nothing else is changed by it."""
    from django.db import connection

    settings.HEARTBEAT_WAIT_FOR_FLUSH = wait
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk, via=path)
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        assert _synchronous_commit() == "on"  # the test's transaction before the beat
    assert player.beat()["credited_seconds"] == pytest.approx(15)
    assert player.delegated == 0
    assert StudyRecord.objects.filter(kind="heartbeat", accepted=True).count() == 1
    if postgresql:
        # (the test runs in one transaction: the beat's setting is still in force in it)
        assert _synchronous_commit() == ("on" if wait else "off")
