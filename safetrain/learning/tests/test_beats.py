"""The crediting rules as one pure decision (learning.beats.assess_beat), one table row per rule: LRN-01..05,
LRN-07, ANTI-01, ANTI-03, ANTI-04, FACE-01, FACE-03, QZ-01. No database: the state, the beat and the clock are the
whole input."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

import pytest

from safetrain.learning.beats import Beat, BeatState, HeartbeatResult, Rules, assess_beat

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
RULES = Rules(interval=15, tolerance=3.0, completion_tolerance=3.0)


def state_of(wait: float, **values: Any) -> BeatState:
    """A playing 300 s lesson whose previous beat was accepted `wait` seconds ago at 0:00, nothing watched yet."""
    base = {
        "session_id": 7,
        "learner_id": 3,
        "enrolment_id": 5,
        "lesson_id": 11,
        "auth_session_id": 13,
        "state": "active",
        "last_seq": 0,
        "last_accepted_at": NOW - dt.timedelta(seconds=wait),
        "last_position": 0.0,
        "last_clean_playing": False,
        "time_carry": 0.0,
        "credited_seconds": 0.0,
        "face_due_at": None,
        "progress_id": 17,
        "watched": [],
        "furthest_position": 0.0,
        "lesson_credited": 0.0,
        "completed_at": None,
        "enrolment_status": "active",
        "deadline": None,
        "duration": 300.0,
        "daily_cap_seconds": 6 * 45 * 60.0,
        "face_timeout_seconds": 180,
        "today_credit": 0.0,
    }
    return BeatState(**{**base, **values})


def beat_of(**values: Any) -> Beat:
    return Beat(
        **{"seq": 1, "position": 15.0, "playing": True, "visible": True, "focused": True, "rate": 1, **values}
    )


def seconds(n: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=n)


@dataclass
class Row:
    state: dict[str, Any] = field(default_factory=dict)
    beat: dict[str, Any] = field(default_factory=dict)
    wait: float = 15  # seconds since the previous accepted beat
    # Expected: HeartbeatResult fields; "flags" (kinds), "accepted", "daily_credit", "end_session",
    # "face_sign_out"; "session.<field>" / "progress.<field>" (the new values); "session" None.
    expect: dict[str, Any] = field(default_factory=dict)


CLEAN = {"reasons": [], "flags": [], "accepted": True, "next_action": ""}
REFUSED = {"credited_seconds": 0, "accepted": False, "session": None, "progress": None, "daily_credit": 0}

ROWS = {
    "LRN-01 a clean beat credits the seconds played": Row(
        expect={
            **CLEAN,
            "credited_seconds": 15,
            "lesson_credited": 15,
            "furthest_position": 15,
            "state": "active",
            "daily_credit": 15,
            "session.last_seq": 1,
            "session.last_accepted_at": NOW,
            "session.last_position": 15,
            "session.last_clean_playing": True,
            "session.credited_seconds": 15,
            "progress.watched": [[0.0, 15.0]],
            "progress.last_position": 15,
            "progress.updated_at": NOW,
            "missing_seconds": 285,
            "gap_start": 15,
            "completed": False,
        }
    ),
    "ANTI-03 a beat of a replaced page while playing is refused and flagged": Row(
        state={"state": "superseded"},
        expect={
            **REFUSED,
            "reasons": ["superseded"],
            "state": "superseded",
            "next_action": "signed_out",
            "flags": ["stale_session"],
        },
    ),
    "ANTI-03 a paused beat of a closed page is refused, not flagged": Row(
        state={"state": "closed"},
        beat={"playing": False},
        expect={**REFUSED, "reasons": ["closed"], "next_action": "signed_out", "flags": []},
    ),
    "ANTI-04 a replayed sequence number is refused and flagged": Row(
        state={"last_seq": 4},
        beat={"seq": 4},
        expect={**REFUSED, "reasons": ["replayed_seq"], "next_action": "", "flags": ["replayed_seq"]},
    ),
    "ANTI-04 an older sequence number is refused and flagged": Row(
        state={"last_seq": 4},
        beat={"seq": 2},
        expect={**REFUSED, "reasons": ["replayed_seq"], "flags": ["replayed_seq"], "state": "active"},
    ),
    "LRN-07 a voided enrolment ends the session": Row(
        state={"enrolment_status": "void"},
        expect={
            **REFUSED,
            "reasons": ["enrolment_inactive"],
            "next_action": "signed_out",
            "state": "closed",
            "end_session": "closed",
            "face_sign_out": None,
        },
    ),
    "LRN-07 a deadline passed while the page was open ends the session": Row(
        state={"deadline": TODAY - dt.timedelta(days=1)},
        expect={**REFUSED, "reasons": ["enrolment_inactive"], "end_session": "closed"},
    ),
    "LRN-07 the deadline day itself still counts": Row(
        state={"deadline": TODAY}, expect={**CLEAN, "credited_seconds": 15, "end_session": None}
    ),
    "FACE-03 an overdue face check signs the learner out": Row(
        state={"face_due_at": seconds(-181)},
        expect={
            **REFUSED,
            "reasons": ["face_check_timeout"],
            "next_action": "signed_out",
            "state": "face_failed",
            "face_sign_out": "timeout",
            "end_session": None,
        },
    ),
    "FACE-01 a due face check credits only the time before it fell due": Row(
        state={"face_due_at": seconds(-10)},
        expect={
            "credited_seconds": 5,
            "reasons": ["face_check_due"],
            "next_action": "verify_face",
            "accepted": True,
            "flags": [],
            "session.last_position": 5,
            "session.last_clean_playing": False,
            "furthest_position": 5,
        },
    ),
    "FACE-01 LRN-02 while a check is due the page may be as far past it as the time since": Row(
        state={"face_due_at": seconds(-10.2), "last_position": 5.0, "furthest_position": 5.0},
        wait=0.2,
        beat={"seq": 2, "position": 15.0, "playing": False},
        expect={"credited_seconds": 0, "reasons": ["paused", "face_check_due"], "flags": []},
    ),
    "FACE-01 LRN-02 while a check is due a position further than that is a seek": Row(
        state={"face_due_at": seconds(-10.2), "last_position": 5.0, "furthest_position": 5.0},
        wait=0.2,
        beat={"seq": 2, "position": 75.0, "playing": False},
        expect={
            "credited_seconds": 0,
            "reasons": ["seek_forward", "paused", "face_check_due"],
            "flags": ["seek_forward"],
            "session.last_position": 5,
        },
    ),
    "ANTI-04 an impossible position is refused and flagged": Row(
        beat={"position": 304.0},
        expect={"credited_seconds": 0, "reasons": ["forged_position"], "flags": ["forged_position"]},
    ),
    "ANTI-04 a negative position is refused and flagged": Row(
        beat={"position": -1.0}, expect={"reasons": ["forged_position"], "session.last_position": 0}
    ),
    "LRN-02 a seek forward credits nothing and is flagged": Row(
        beat={"position": 200.0},
        expect={
            "credited_seconds": 0,
            "reasons": ["seek_forward"],
            "flags": ["seek_forward"],
            "accepted": False,
            "session.last_position": 0,
            "session.time_carry": 0,
        },
    ),
    "LRN-02 a jump within watched ground credits nothing, is no cheat, and moves the start": Row(
        state={"last_position": 100.0, "furthest_position": 300.0, "watched": [[0.0, 100.0], [110.0, 300.0]]},
        beat={"position": 200.0},
        expect={
            **CLEAN,
            "credited_seconds": 0,
            "session.last_position": 200,
            "session.time_carry": 0,
            "missing_seconds": 10,
            "gap_start": 100,
        },
    ),
    "LRN-02 re-watched ground never credits twice": Row(
        state={"watched": [[0.0, 60.0]], "furthest_position": 60.0, "lesson_credited": 60.0},
        expect={**CLEAN, "credited_seconds": 0, "lesson_credited": 60, "session.last_position": 15},
    ),
    "LRN-01 the seconds before a pause count after clean play": Row(
        state={"last_clean_playing": True},
        wait=3,
        beat={"position": 3.0, "playing": False},
        expect={
            "credited_seconds": 3,
            "reasons": ["paused"],
            "accepted": True,
            "flags": [],
            "session.last_clean_playing": False,
        },
    ),
    "LRN-01 a paused beat without clean play before credits nothing": Row(
        wait=3,
        beat={"position": 3.0, "playing": False},
        expect={"credited_seconds": 0, "reasons": ["paused"], "accepted": False, "session.last_position": 3},
    ),
    "ANTI-01 a hidden tab credits nothing and is flagged": Row(
        beat={"visible": False},
        expect={"credited_seconds": 0, "reasons": ["hidden"], "flags": ["hidden"], "accepted": False},
    ),
    "ANTI-01 an unfocused window credits nothing and is flagged": Row(
        beat={"focused": False}, expect={"credited_seconds": 0, "reasons": ["hidden"], "flags": ["hidden"]}
    ),
    "ANTI-04 a playback rate other than 1 credits nothing and is flagged": Row(
        beat={"rate": 2},
        expect={"credited_seconds": 0, "reasons": ["rate"], "flags": ["rate"], "session.time_carry": 0},
    ),
    "ANTI-04 beats faster than a third of the interval are flagged, the clock still bounds them": Row(
        state={"last_clean_playing": True},
        wait=2,
        beat={"position": 2.0},
        expect={"credited_seconds": 2, "reasons": [], "flags": ["too_fast"], "accepted": True},
    ),
    "LRN-01 a long gap credits at most interval plus tolerance": Row(
        wait=60,
        beat={"position": 60.0},
        expect={**CLEAN, "credited_seconds": 18, "session.last_position": 18, "session.time_carry": 3},
    ),
    "LRN-01 a slow page carries up to the tolerance of unused time to the next beat": Row(
        beat={"position": 12.0},
        expect={**CLEAN, "credited_seconds": 12, "session.time_carry": 3},
    ),
    "LRN-01 carried time pays a late beat's jitter": Row(
        state={"time_carry": 0.5, "last_position": 14.5, "furthest_position": 14.5, "watched": [[0.0, 14.5]]},
        wait=15.5,
        beat={"position": 30.0},
        expect={**CLEAN, "credited_seconds": 15.5, "session.time_carry": 0.5},
    ),
    "LRN-04 the daily cap stops crediting and says so": Row(
        state={"daily_cap_seconds": 60.0, "today_credit": 50.0},
        expect={
            "credited_seconds": 10,
            "reasons": ["daily_cap"],
            "next_action": "daily_cap_reached",
            "accepted": True,
            "daily_credit": 10,
        },
    ),
    "LRN-04 a reached cap credits nothing": Row(
        state={"daily_cap_seconds": 60.0, "today_credit": 60.0},
        expect={"credited_seconds": 0, "reasons": ["daily_cap"], "next_action": "daily_cap_reached"},
    ),
    "LRN-05 nothing past the end of the video is credited": Row(
        state={"last_position": 285.0, "furthest_position": 285.0, "watched": [[0.0, 285.0]]},
        wait=18,
        beat={"position": 303.0},
        expect={**CLEAN, "credited_seconds": 15, "furthest_position": 300},
    ),
    "LRN-05 the lesson completes within the completion tolerance and asks for its quiz": Row(
        state={
            "last_position": 282.0,
            "furthest_position": 282.0,
            "watched": [[0.0, 282.0]],
            "quiz_due": True,
        },
        beat={"position": 297.0},
        expect={
            **CLEAN,
            "credited_seconds": 15,
            "completed": True,
            "progress.completed_at": NOW,
            "missing_seconds": 0,
            "gap_start": None,
            "next_action": "quiz",
        },
    ),
    "QZ-01 a completed lesson's beat asks for its quiz": Row(
        state={
            "watched": [[0.0, 300.0]],
            "furthest_position": 300.0,
            "completed_at": seconds(-600),
            "quiz_due": True,
        },
        expect={"completed": True, "next_action": "quiz", "progress.completed_at": seconds(-600)},
    ),
    "QZ-01 a lesson whose quiz is passed (or has none) asks for nothing": Row(
        state={"watched": [[0.0, 300.0]], "furthest_position": 300.0, "completed_at": seconds(-600)},
        expect={"completed": True, "next_action": ""},
    ),
    "QZ-01 the quiz is not asked while something else is": Row(
        state={
            "last_position": 282.0,
            "furthest_position": 282.0,
            "watched": [[0.0, 282.0]],
            "daily_cap_seconds": 60.0,
            "today_credit": 45.0,
            "quiz_due": True,
        },
        beat={"position": 297.0},
        expect={"completed": True, "next_action": "daily_cap_reached"},
    ),
    "LRN-05 a gap in the middle is named with where it starts": Row(
        state={"last_position": 100.0, "furthest_position": 300.0, "watched": [[0.0, 100.0], [110.0, 300.0]]},
        wait=4,
        beat={"position": 104.0},
        expect={**CLEAN, "credited_seconds": 4, "missing_seconds": 6, "gap_start": 104, "completed": False},
    ),
    "LRN-05 the gap's start is never rounded past it": Row(
        state={"watched": [[0.0, 100.06]], "furthest_position": 100.06, "last_position": 100.06},
        beat={"playing": False, "position": 100.06},
        expect={"gap_start": 100.0},
    ),
}


def observed(outcome, key: str) -> Any:
    if key in {f.name for f in fields(HeartbeatResult)}:
        return getattr(outcome.result, key)
    if key == "flags":
        return [kind for kind, _evidence in outcome.flags]
    if key == "accepted":
        return outcome.record["accepted"]
    if key in {"session", "progress"}:
        return getattr(outcome, key)
    if "." in key:
        part, name = key.split(".")
        return getattr(outcome, part)[name]
    return getattr(outcome, key)


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_lrn_01_05_anti_01_04_face_01_03_each_rule_decides_its_beat(row: Row):
    state = state_of(row.wait, **row.state)
    before = copy.deepcopy(state)
    outcome = assess_beat(state, beat_of(**row.beat), NOW, TODAY, RULES)
    for key, expected in row.expect.items():
        value = observed(outcome, key)
        if isinstance(expected, float | int) and not isinstance(expected, bool):
            assert value == pytest.approx(expected), key
        else:
            assert value == expected, key
    assert state == before  # a decision: the state it read is left as it was


def test_lrn_01_every_beat_has_its_record_with_the_reasons_and_the_credit():
    outcome = assess_beat(state_of(15), beat_of(rate=2), NOW, TODAY, RULES)
    assert outcome.record == {
        "at": NOW,
        "learner": 3,
        "enrolment": 5,
        "lesson": 11,
        "session": 7,
        "kind": "heartbeat",
        "seq": 1,
        "position": 15.0,
        "credited_seconds": 0.0,
        "accepted": False,
        "reasons": ["rate"],
    }
    assert outcome.flags == [
        (
            "rate",
            {
                "seq": 1,
                "position": 15.0,
                "playing": True,
                "visible": True,
                "focused": True,
                "rate": 2,
                "elapsed": 15,
            },
        )
    ]
    assert outcome.needs_orm


def test_lrn_01_a_plain_beat_needs_nothing_but_its_writes():
    outcome = assess_beat(state_of(15), beat_of(), NOW, TODAY, RULES)
    assert not outcome.needs_orm
    assert outcome.result.__dict__ == {
        "credited_seconds": 15.0,
        "lesson_credited": 15.0,
        "furthest_position": 15.0,
        "completed": False,
        "state": "active",
        "next_action": "",
        "reasons": [],
        "missing_seconds": 285.0,
        "gap_start": 15.0,
    }


def test_lrn_01_an_honest_player_earns_the_lesson_exactly_beat_by_beat():
    """The decisions chained: each beat's new values are the next beat's state."""
    from dataclasses import replace

    state, now, credited = state_of(0), NOW, 0.0
    for seq in range(1, 21):
        now += dt.timedelta(seconds=15)
        outcome = assess_beat(state, beat_of(seq=seq, position=15.0 * seq), now, TODAY, RULES)
        credited += outcome.result.credited_seconds
        progress = {k: v for k, v in outcome.progress.items() if k not in ("last_position", "updated_at")}
        state = replace(
            state,
            **outcome.session,
            watched=progress["watched"],
            furthest_position=progress["furthest_position"],
            lesson_credited=progress["credited_seconds"],
            completed_at=progress["completed_at"],
            today_credit=state.today_credit + outcome.daily_credit,
        )
    assert credited == pytest.approx(300)
    assert outcome.result.completed
    assert outcome.flags == []
