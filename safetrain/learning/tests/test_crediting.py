"""LRN-01..05, ANTI-01..04 at the API level: an honest player earns its time; every cheating client earns at most
the honest amount, and its tricks are logged as suspicious events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from safetrain.catalog.models import RegionProfile
from safetrain.learning.models import StudyRecord, SuspiciousEvent
from safetrain.learning.tests.conftest import SHANGHAI, Player


@pytest.fixture(autouse=True, params=["api", "fast"])
def heartbeat_path(request, monkeypatch):
    """Every rule below is proven twice: heartbeats through the API, and with the page's key through the
    production WSGI entry's hot path (learning.hotpath), which must credit exactly the same."""
    monkeypatch.setattr(Player, "via", request.param)
    return request.param


def kinds(world) -> set[str]:
    return set(SuspiciousEvent.objects.filter(learner=world.learner_nanshan).values_list("kind", flat=True))


def test_lrn_01_an_honest_player_earns_exactly_the_time_it_watched_and_completes_the_lesson(
    lesson, world, api_client, clock, heartbeat_path
):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(20):
        data = player.beat()
    assert player.credited == pytest.approx(300)
    assert data["completed"] is True
    assert data["lesson_credited"] == pytest.approx(300)
    assert kinds(world) == set()
    # With the key, the hot path answered every beat but the one completing the lesson, whose quiz only the full
    # stack reads (learning.hotpath).
    assert player.delegated == (1 if heartbeat_path == "fast" else 0)


def test_lrn_01_heartbeats_twice_as_fast_earn_no_more_than_honest(lesson, world, api_client, clock):
    cheat = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(20):
        cheat.beat(wait=7.5, advance=15)  # claims 15 s of video every 7.5 s of wall clock
    assert cheat.credited <= 150 + 1e-6  # the wall clock that passed
    assert "seek_forward" in kinds(world)


def test_lrn_02_jumping_forward_credits_nothing_and_is_logged(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    player.beat()
    data = player.beat(advance=200)
    assert data["credited_seconds"] == 0
    assert "seek_forward" in data["reasons"]
    assert data["furthest_position"] == pytest.approx(15)
    assert "seek_forward" in kinds(world)


def test_lrn_02_re_watched_parts_never_credit_twice(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk)
    for _ in range(4):
        player.beat()
    assert player.credited == pytest.approx(60)
    player.beat(wait=1, advance=-player.position)  # rewind to the start (allowed) ...
    for _ in range(4):
        player.beat()  # ... and watch the same minute again
    assert player.credited == pytest.approx(60)
    player.beat()
    assert player.credited == pytest.approx(75)  # new ground credits again


def test_anti_04_a_replayed_or_out_of_order_sequence_number_credits_nothing(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    player.beat()
    player.beat()
    replay = player.beat(seq=2)
    older = player.beat(seq=1)
    assert replay["credited_seconds"] == 0
    assert older["credited_seconds"] == 0
    assert "replayed_seq" in kinds(world)


@pytest.mark.parametrize(
    ("flags", "kind"),
    [({"rate": 2}, "rate"), ({"visible": False}, "hidden"), ({"focused": False}, "hidden")],
    ids=["rate-2x", "hidden-tab", "unfocused-window"],
)
def test_anti_01_anti_04_fast_hidden_or_unfocused_playback_credits_nothing(
    lesson, world, api_client, clock, flags, kind
):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(4):
        data = player.beat(**flags)
        assert data["credited_seconds"] == 0
    assert kind in kinds(world)


def test_anti_04_double_speed_disguised_as_normal_speed_earns_no_more_than_honest(
    lesson, world, api_client, clock
):
    cheat = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(10):
        cheat.beat(wait=15, advance=30, rate=1)
    assert cheat.credited <= 150 + 1e-6


def test_lrn_01_a_paused_player_earns_nothing_and_is_not_suspicious(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(3):
        data = player.beat(advance=0, playing=False)
    assert player.credited == 0
    assert data["reasons"] == ["paused"]
    assert kinds(world) == set()


def test_lrn_01_a_long_gap_credits_at_most_one_interval(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    data = player.beat(wait=60, advance=60)
    assert data["credited_seconds"] == pytest.approx(18)  # interval 15 + tolerance 3


def test_anti_03_opening_a_second_session_ends_the_first(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    first = Player(client, clock, lesson.pk)
    first.beat()
    second = Player(client, clock, lesson.pk)  # another tab or device
    stale = first.beat()
    assert stale["credited_seconds"] == 0
    assert stale["state"] == "superseded"
    assert stale["next_action"] == "signed_out"
    assert second.session["resume_position"] == pytest.approx(15)  # LRN-03: resume where the learner stopped
    assert second.beat()["credited_seconds"] == pytest.approx(15)
    assert "stale_session" in kinds(world)


def test_lrn_04_the_daily_cap_in_the_local_day(lesson, world, api_client, clock):
    profile = RegionProfile.objects.get(code="shenzhen_construction")
    profile.daily_cap_class_hours = 1
    profile.class_hour_minutes = 1  # a one-minute cap keeps the test short
    profile.save()
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(6):
        data = player.beat()
    assert player.credited == pytest.approx(60)
    assert data["next_action"] == "daily_cap_reached"
    # Just before midnight in Shanghai nothing more; after it, the new day credits again.
    clock.move_to(dt.datetime(2026, 11, 23, 23, 59, 40, tzinfo=SHANGHAI))
    # The token went idle overnight: sign in again and open the lesson again (a page reports only with the
    # sign-in that opened it).
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert player.beat(wait=10, advance=10)["credited_seconds"] == 0
    clock.move_to(dt.datetime(2026, 11, 24, 0, 0, 5, tzinfo=SHANGHAI))
    assert player.beat(wait=10, advance=10)["credited_seconds"] == pytest.approx(10)


def test_lrn_05_a_course_counts_only_when_every_lesson_is_complete(lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk)
    for _ in range(20):
        player.beat()
    overview = client.get("/api/v1/enrollments").json()[0]
    course = overview["courses"][0]
    assert course["lessons"][0]["completed"] is True
    assert course["completed"] is False
    assert overview["credited_minutes"] == 0  # 5 minutes studied, but the course is not complete
    second = Player(client, clock, course["lessons"][1]["id"])
    for _ in range(8):
        second.beat()
    overview = client.get("/api/v1/enrollments").json()[0]
    assert overview["courses"][0]["completed"] is True
    assert overview["credited_minutes"] == pytest.approx(7)
    assert overview["public_minutes"] == pytest.approx(7)
    assert overview["study_days"] == 1


def test_rec_02_every_heartbeat_is_in_the_append_only_study_record(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    player.beat()
    player.beat(seq=1)  # rejected
    records = list(StudyRecord.objects.order_by("pk"))
    assert [r.kind for r in records] == ["period_start", "heartbeat", "heartbeat"]
    assert [r.accepted for r in records[1:]] == [True, False]
    assert records[1].ip == "127.0.0.1"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE learning_studyrecord SET credited_seconds = 999")


def test_lrn_01_only_enrolled_learners_study_and_only_their_own_sessions(lesson, world, api_client, clock):
    outsider = api_client(world.learner_futian)
    response = outsider.post(
        "/api/v1/study-sessions", {"lesson_id": lesson.pk}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_enrolled"
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    body = {"seq": 1, "position": 15, "playing": True, "visible": True, "focused": True, "rate": 1}
    stolen = outsider.post(
        f"/api/v1/study-sessions/{player.session['id']}/heartbeats", body, content_type="application/json"
    )
    assert (stolen.status_code, stolen.json()["code"]) == (403, "sign_in_mismatch")
    missing = outsider.post("/api/v1/study-sessions/999999/heartbeats", body, content_type="application/json")
    assert missing.status_code == 404


def test_anti_05_operators_review_the_queue_and_confirming_cancels_all_credited_time(
    lesson, world, api_client, web_client, clock
):
    from safetrain.learning.models import LessonProgress
    from safetrain.records.models import AuditEntry

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(4):
        player.beat()
    player.beat(advance=200)  # a jump: suspicious
    player.beat(rate=2)
    assert player.credited == pytest.approx(60)
    operator = web_client(world.operator)
    page = operator.get("/learn/review/").content.decode()
    assert "南山学员" in page
    assert "播放位置超出已观看进度" in page  # the kinds, in words
    assert "倍速播放" in page
    enrolment_id = LessonProgress.objects.get(lesson=lesson).enrolment_id
    refused = operator.post(
        "/learn/review/", {"enrolment": enrolment_id, "decision": "confirmed", "reason": ""}
    )
    assert refused.status_code == 400  # a decision needs its reason
    confirmed = operator.post(
        "/learn/review/", {"enrolment": enrolment_id, "decision": "confirmed", "reason": "拖动进度并倍速播放"}
    )
    assert confirmed.status_code == 302
    progress = LessonProgress.objects.get(lesson=lesson)
    assert progress.credited_seconds == 0
    assert progress.cancelled_seconds == pytest.approx(60)
    cancelled = StudyRecord.objects.get(kind="cancelled")
    assert cancelled.credited_seconds == pytest.approx(-60)  # kept in the record, not deleted
    assert StudyRecord.objects.filter(kind="heartbeat", accepted=True).count() == 4
    assert AuditEntry.objects.filter(action="anti_cheat.confirmed").exists()
    assert "南山学员" not in operator.get("/learn/review/").content.decode()  # reviewed: off the queue
    assert web_client(world.regulator_city).get("/learn/review/").status_code == 403


def test_lrn_02_sweeping_back_over_watched_ground_earns_nothing(lesson, world, api_client, clock):
    """The probe that once earned 685 s on a 300 s lesson: watch most, then rewind-and-jump repeatedly."""
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(19):
        player.beat()  # 0 .. 285
    player.beat(wait=15, advance=15, playing=False)  # a paused beat at 300
    for _ in range(10):
        player.beat(wait=1, advance=-player.position, playing=False)  # rewind to 0
        player.beat(wait=10, advance=297)  # "playing" far ahead ten seconds later
    assert player.credited <= 300 + 1e-6
    from safetrain.learning.models import LessonProgress

    assert LessonProgress.objects.get(lesson=lesson).credited_seconds <= 300 + 1e-6


def test_lrn_01_the_seconds_before_a_pause_and_the_end_of_the_video_count(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(6):
        player.beat(wait=10, advance=10)
        player.beat(wait=3, advance=3, playing=False)  # paused 3 s after the last beat
        player.beat(wait=5, advance=0, playing=False)  # still paused
        player.beat(wait=15, advance=0)  # resumed: the next beat sees no advance yet
    while player.position < 290:
        player.beat()
    data = player.beat(wait=300 - player.position, advance=300 - player.position, playing=False)  # "ended"
    assert player.credited == pytest.approx(300)
    assert data["completed"] is True


def test_lrn_01_network_jitter_does_not_leave_holes(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for i in range(20):
        player.beat(wait=14.5 if i % 2 == 0 else 15.5, advance=15)
    assert player.credited == pytest.approx(300)
    assert player.beat(wait=1, advance=0, playing=False)["completed"] is True


def test_lrn_05_nothing_past_the_end_of_the_video_is_credited(lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    for _ in range(19):
        player.beat()
    player.beat(wait=18, advance=18)  # reports 303 s of a 300 s video (within the tolerance)
    assert player.credited == pytest.approx(300)


def test_anti_03_the_database_refuses_a_second_active_session(lesson, world, api_client, clock):
    from django.db import IntegrityError

    from safetrain.learning.models import StudySession

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    session = StudySession.objects.get(pk=player.session["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        StudySession.objects.create(
            learner=session.learner,
            enrolment=session.enrolment,
            lesson=session.lesson,
            progress=session.progress,
            started_at=session.started_at,
            last_accepted_at=session.started_at,
        )


def test_lrn_07_a_deadline_passing_during_study_stops_the_session(lesson, world, api_client, clock):
    from safetrain.learning.models import Enrolment

    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    player.beat()
    Enrolment.objects.filter(learner=world.learner_nanshan).update(deadline=dt.date(2026, 11, 22))
    data = player.beat()
    assert data["credited_seconds"] == 0
    assert data["next_action"] == "signed_out"


def test_rec_02_the_orm_refuses_to_change_or_remove_study_records(lesson, world, api_client, clock):
    from safetrain.records.models import AppendOnlyError

    Player(api_client(world.learner_nanshan), clock, lesson.pk).beat()
    record = StudyRecord.objects.first()
    record.credited_seconds = 999
    with pytest.raises(AppendOnlyError):
        record.save()
    with pytest.raises(AppendOnlyError):
        StudyRecord.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        StudyRecord.objects.update(accepted=False)


def test_lrn_04_the_study_day_is_the_platforms_whatever_zone_a_request_activated():
    from django.utils import timezone as tz

    from safetrain.learning.crediting import study_day

    now = dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.UTC)  # 01:00 on 3 December in Asia/Shanghai
    assert study_day(now) == dt.date(2026, 12, 3)
    with tz.override("America/New_York"):  # 12:00 on 2 December there
        assert study_day(now) == dt.date(2026, 12, 3)


def given_watched(lesson, world, watched, last_position):
    """A lesson left with unwatched parts, as an interrupted session or an early face check could leave it."""
    from safetrain.learning.models import Enrolment, LessonProgress

    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    LessonProgress.objects.create(
        enrolment=enrolment,
        lesson=lesson,
        watched=watched,
        credited_seconds=sum(b - a for a, b in watched),
        furthest_position=max(b for _a, b in watched),
        last_position=last_position,
    )


def test_lrn_01_a_replay_credits_its_first_seconds_so_a_gap_at_the_start_closes(
    lesson, world, api_client, clock
):
    # The first 10 s were never credited; the learner had stopped at the end.
    given_watched(lesson, world, [[10.0, 300.0]], last_position=300.0)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    # The page starts where something is still to be watched, and crediting starts there too.
    assert player.session["resume_position"] == 0
    data = player.beat(wait=10)
    assert data["credited_seconds"] == pytest.approx(10)
    assert data["completed"] is True
    assert (data["missing_seconds"], data["gap_start"]) == (0, None)
    assert data["lesson_credited"] == pytest.approx(300)
    assert kinds(world) == set()


def test_lrn_01_a_gap_in_the_middle_is_named_and_completed_by_playing_it(lesson, world, api_client, clock):
    given_watched(lesson, world, [[0.0, 100.0], [110.0, 300.0]], last_position=300.0)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert player.session["resume_position"] == pytest.approx(100)
    data = player.beat(wait=4)
    assert data["completed"] is False
    assert data["missing_seconds"] == pytest.approx(6)
    assert data["gap_start"] == pytest.approx(104)
    data = player.beat(wait=6)
    assert data["completed"] is True
    assert data["lesson_credited"] == pytest.approx(300)
    # Playing on over watched ground credits nothing twice (LRN-02).
    assert player.beat()["credited_seconds"] == 0


def test_lrn_01_the_gap_button_seeks_back_and_the_seek_report_lets_the_gap_be_credited(
    lesson, world, api_client, clock
):
    # The learner stopped inside a watched stretch after the gap; the page resumes there, and the learner then uses
    # "play from 1:40" (a seek back, which the page reports at once) and plays the gap.
    given_watched(lesson, world, [[0.0, 100.0], [110.0, 300.0]], last_position=150.0)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert player.beat(wait=1, advance=0, playing=False)["gap_start"] == pytest.approx(100)
    player.beat(wait=1, advance=100 - player.position, playing=False)  # the seek report
    data = player.beat(wait=10)
    assert data["credited_seconds"] == pytest.approx(10)
    assert data["completed"] is True
    assert kinds(world) == set()


def test_lrn_02_a_seek_report_never_moves_crediting_past_what_was_watched(lesson, world, api_client, clock):
    given_watched(lesson, world, [[0.0, 100.0]], last_position=100.0)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    data = player.beat(wait=1, advance=150, playing=False)  # a forged "seek" to 4:10
    assert "seek_forward" in data["reasons"]
    data = player.beat(wait=15, advance=15)
    assert data["credited_seconds"] == 0  # still ahead of what was watched plus the time that passed
    assert data["furthest_position"] == pytest.approx(100)


def face_check_due_after(player, seconds: float) -> None:
    """The session's first face check falls due `seconds` after the page opened (the moment is random in use)."""
    from safetrain.learning.models import StudySession

    session = StudySession.objects.get(pk=player.session["id"])
    session.face_due_at = session.started_at + dt.timedelta(seconds=seconds)
    session.save(update_fields=["face_due_at"])


def face_check_passed(world, player) -> dict:
    """What a passed check does to the study session (the camera and model are proven in test_face_gate)."""
    from safetrain.learning.face_gate import study_check_result

    return study_check_result(learner=world.learner_nanshan, session_id=player.session["id"], passed=True)


def test_face_03_lrn_01_an_early_face_check_in_a_short_lesson_is_not_a_seek_and_the_lesson_completes(
    lesson, world, api_client, clock
):
    # The case: a 24 s lesson, a check due 5 s in; the page learns it at the 15 s beat, pauses at once
    # (its pause beat reports 15 s, 10 s past where crediting stopped), the learner passes the check in 8 s, the page
    # goes back to where crediting stopped and the learner plays to the end.
    lesson.video.duration_seconds = 24
    lesson.video.save(update_fields=["duration_seconds"])
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    face_check_due_after(player, 5)
    data = player.beat()
    assert (data["credited_seconds"], data["next_action"]) == (pytest.approx(5), "verify_face")
    data = player.beat(wait=0.2, advance=0, playing=False)  # the page's pause beat
    assert "seek_forward" not in data["reasons"]
    assert data["credited_seconds"] == 0
    result = face_check_passed(world, player)
    assert result["resume_position"] == pytest.approx(5)
    clock.shift(8)
    player.position = result["resume_position"]
    player.beat(wait=0.1, advance=0, playing=False)  # the seek report of the page going back
    player.beat(wait=6.7)  # the timer beat
    data = player.beat(wait=24 - player.position, playing=False)  # the video ends
    assert data["completed"] is True
    assert data["lesson_credited"] == pytest.approx(24)
    assert (data["missing_seconds"], data["gap_start"]) == (0, None)
    assert kinds(world) == set()


def test_face_03_lrn_02_while_a_check_is_due_a_position_beyond_the_time_since_it_fell_due_is_a_seek(
    lesson, world, api_client, clock
):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    face_check_due_after(player, 5)
    assert player.beat()["next_action"] == "verify_face"  # credited up to 0:05, the page is at 0:15
    data = player.beat(wait=0.2, advance=60, playing=False)  # claims 1:15, far past 0:05 + 10.2 s
    assert "seek_forward" in data["reasons"]
    assert data["credited_seconds"] == 0
    # Nothing past the due moment counts, and after the pass crediting goes on from there, not from the claim.
    assert face_check_passed(world, player)["resume_position"] == pytest.approx(5)
    data = player.beat(wait=15, advance=15)  # still far ahead of 0:05 + 15 s
    assert data["credited_seconds"] == 0
    assert data["furthest_position"] == pytest.approx(5)


@pytest.mark.parametrize(
    ("played", "reported"),
    [(0, False), (4, False), (4, True)],
    ids=["at-once-unreported", "after-4s-unreported", "after-4s-seek-report"],
)
def test_lrn_02_a_forward_seek_inside_watched_ground_never_credits_the_gap(
    lesson, world, api_client, clock, played, reported
):
    # The page opens at the unwatched gap 1:40-1:50; the learner plays `played` seconds of it, then seeks ahead to
    # 3:20, inside ground already watched (allowed: LRN-02 allows re-watching), and plays there. The jump cannot be
    # explained by playback, so the rest of the gap (and anything beyond it) is not credited; crediting goes on from
    # where the page really plays, over watched ground, which credits nothing twice. Whether the page's seek report
    # arrives (the honest page) or not (a scripted client) makes no difference.
    given_watched(lesson, world, [[0.0, 100.0], [110.0, 300.0]], last_position=300.0)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    assert player.session["resume_position"] == pytest.approx(100)
    missing = 10 - played
    if played:
        data = player.beat(wait=played)
        assert data["credited_seconds"] == pytest.approx(played)
        assert data["missing_seconds"] == pytest.approx(missing)
    if reported:
        data = player.beat(wait=1, advance=200 - player.position, playing=False)  # the seek report at 3:20
        assert data["credited_seconds"] == 0
    else:
        # The seek, not reported: the next timer beat (at 3:35) is the first the server hears of it.
        player.position = 200
    while player.position < 290:  # 3:20 .. 4:50, all watched before
        data = player.beat()
        assert data["credited_seconds"] == 0
        assert data["missing_seconds"] == pytest.approx(missing)
        assert data["gap_start"] == pytest.approx(100 + played)
        assert data["completed"] is False
    assert data["lesson_credited"] == pytest.approx(290 + played)
    assert player.credited == pytest.approx(played)
    assert kinds(world) == set()  # a jump within watched ground is no cheat; it just earns nothing
    # The gap button still closes the gap: a seek back to its start, reported, and the missing seconds played.
    data = player.beat(wait=1, advance=data["gap_start"] - player.position, playing=False)
    assert data["credited_seconds"] == 0
    data = player.beat(wait=missing)
    assert data["credited_seconds"] == pytest.approx(missing)
    assert data["completed"] is True
    assert data["lesson_credited"] == pytest.approx(300)
    assert kinds(world) == set()
