"""The sign-in gate's decision, table-driven without a database (ACC-03, ACC-04, ACC-05, FACE-01)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from safetrain.accounts.gate import SigninState, signin_columns, signin_problem, signin_state

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
IDLE_MINUTES = 30
MAX_AGE_DAYS = 90


@pytest.fixture(autouse=True)
def _policy(settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = IDLE_MINUTES
    settings.API_TOKEN_IDLE_MINUTES = IDLE_MINUTES
    settings.PASSWORD_MAX_AGE_DAYS = MAX_AGE_DAYS
    settings.FACE_CHECK_AT_LOGIN = True


def state(**changes) -> SigninState:
    """A sign-in that may go on: open, seen a minute ago, active, password changed a week ago, face checked."""
    plain = SigninState(
        id=7,
        kind="api",
        ended_at=None,
        last_seen_at=NOW - dt.timedelta(minutes=1),
        face_verified_at=NOW - dt.timedelta(minutes=1),
        user_id=3,
        user_active=True,
        must_change_password=False,
        password_changed_at=NOW - dt.timedelta(days=7),
    )
    return dataclasses.replace(plain, **changes)


def minutes_ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


CASES = [
    # (what, state changes, signin_problem's inputs, expected problem)
    ("a plain api sign-in", {}, {}, None),
    ("a plain browser sign-in", {"kind": "web"}, {"kind": "web"}, None),
    ("ACC-05 a browser session's key as a bearer token", {"kind": "web"}, {"kind": "api"}, "kind"),
    ("ACC-05 a token sent as a session cookie", {}, {"kind": "web"}, "kind"),
    ("ACC-05 a signed-out sign-in", {"ended_at": minutes_ago(5)}, {}, "ended"),
    ("ACC-05 the kind is checked before the end", {"ended_at": minutes_ago(5)}, {"kind": "web"}, "kind"),
    ("ACC-04 a token just within the idle time", {"last_seen_at": minutes_ago(IDLE_MINUTES)}, {}, None),
    ("ACC-04 a token past the idle time", {"last_seen_at": minutes_ago(IDLE_MINUTES + 0.1)}, {}, "idle"),
    # A browser session's last_seen_at trails its last request by up to a minute (auth_session_touch).
    (
        "ACC-04 a browser session seen within the idle time and the touch interval",
        {"kind": "web", "last_seen_at": minutes_ago(IDLE_MINUTES + 1)},
        {"kind": "web"},
        None,
    ),
    (
        "ACC-04 a browser session past the idle time and the touch interval",
        {"kind": "web", "last_seen_at": minutes_ago(IDLE_MINUTES + 1.1)},
        {"kind": "web"},
        "idle",
    ),
    (
        "ACC-05 an ended sign-in is ended, not idle",
        {"ended_at": NOW, "last_seen_at": minutes_ago(99)},
        {},
        "ended",
    ),
    ("a deactivated account", {"user_active": False}, {}, "inactive"),
    (
        "ACC-04 idle comes before inactive",
        {"user_active": False, "last_seen_at": minutes_ago(99)},
        {},
        "idle",
    ),
    ("ACC-03 the initial password", {"must_change_password": True}, {}, "password"),
    ("ACC-03 a password past its age", {"password_changed_at": NOW - dt.timedelta(days=91)}, {}, "password"),
    ("ACC-03 a password at its age", {"password_changed_at": NOW - dt.timedelta(days=90)}, {}, None),
    ("ACC-03 a password never changed has no age", {"password_changed_at": None}, {}, None),
    (
        "ACC-03 inactive comes before the password",
        {"user_active": False, "must_change_password": True},
        {},
        "inactive",
    ),
    (
        "FACE-01 a learner's face check pending",
        {"face_verified_at": None},
        {"is_learner": True},
        "face_check",
    ),
    ("FACE-01 unknown counts as a learner", {"face_verified_at": None}, {"is_learner": None}, "face_check"),
    ("FACE-01 staff are not asked", {"face_verified_at": None}, {"is_learner": False}, None),
    ("FACE-01 asked lazily", {"face_verified_at": None}, {"is_learner": lambda: True}, "face_check"),
    (
        "FACE-01 the password comes first",
        {"face_verified_at": None, "must_change_password": True},
        {},
        "password",
    ),
    (
        "a sign-in not seen within fresh_seconds",
        {"last_seen_at": minutes_ago(5.5)},
        {"fresh_seconds": 300},
        "stale",
    ),
    ("a sign-in seen within fresh_seconds", {"last_seen_at": minutes_ago(5)}, {"fresh_seconds": 300}, None),
    (
        "FACE-01 a pending face check comes before stale",
        {"face_verified_at": None, "last_seen_at": minutes_ago(6)},
        {"fresh_seconds": 300},
        "face_check",
    ),
    ("the full stack has no freshness limit", {"last_seen_at": minutes_ago(29)}, {}, None),
]


@pytest.mark.parametrize(("what", "changes", "inputs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_acc_05_the_gate_decides_whether_a_signin_goes_on(what, changes, inputs, expected):
    assert signin_problem(state(**changes), now=NOW, **{"kind": "api", **inputs}) == expected


def test_face_01_without_the_face_check_at_sign_in_nobody_is_asked(settings):
    settings.FACE_CHECK_AT_LOGIN = False
    assert signin_problem(state(face_verified_at=None), now=NOW, kind="api", is_learner=True) is None


def test_acc_03_without_a_maximum_age_a_password_never_expires(settings):
    settings.PASSWORD_MAX_AGE_DAYS = 0
    old = state(password_changed_at=NOW - dt.timedelta(days=3650))
    assert signin_problem(old, now=NOW, kind="api") is None


def test_face_01_the_learner_question_is_asked_only_when_it_matters():
    asked = []

    def is_learner() -> bool:
        asked.append(True)
        return True

    assert signin_problem(state(), now=NOW, kind="api", is_learner=is_learner) is None
    assert signin_problem(state(must_change_password=True), now=NOW, kind="api", is_learner=is_learner)
    assert asked == []


def test_acc_05_a_hot_path_row_loads_into_the_state_in_the_columns_order():
    columns = signin_columns("s", "u")
    assert [c.sql for c in columns] == [
        's."id"',
        's."kind"',
        's."ended_at"',
        's."last_seen_at"',
        's."face_verified_at"',
        's."user_id"',
        'u."is_active"',
        'u."must_change_password"',
        'u."password_changed_at"',
    ]
    values = [getattr(state(), f.name) for f in dataclasses.fields(SigninState)]
    assert signin_state(values) == state()
    with pytest.raises(ValueError, match="signin_columns"):
        signin_state(values[:-1])
