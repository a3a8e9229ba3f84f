"""SEC (GB/T 22239 access control) for LRN-01: a study page's heartbeat key is bound to the sign-in that opened the
page. On both heartbeat paths (the hot path in front of Django, and the API through the full stack) a beat must
carry that same sign-in, its bearer token or its browser session cookie; another user's token, another sign-in of
the same learner and no credentials at all are refused with a Chinese JSON error and a code, and nothing is
counted."""

from __future__ import annotations

import re

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from conftest import web_client_for
from safetrain.accounts.models import AuthSession, SessionKind
from safetrain.core.crypto import token_digest
from safetrain.learning.models import Enrolment, StudyRecord
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import Player, wsgi_post

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def beat_body(seq: int = 1) -> dict:
    return {"seq": seq, "position": 15.0 * seq, "playing": True, "visible": True, "focused": True, "rate": 1}


def send(client: Client, player: Player, path: str, seq: int = 1, **headers: str):
    """One beat of the player's page by `path`: "fast" with the page's key through the production WSGI entry (the
    hot path answers it or hands it to the full stack), "api" through the full stack without the key."""
    url = f"/api/v1/study-sessions/{player.session['id']}/heartbeats"
    if path == "fast":
        return wsgi_post(client, url, beat_body(seq), x_study_key=player.session["heartbeat_key"], **headers)
    extra = {f"HTTP_{name.upper()}": value for name, value in headers.items()}
    return client.post(url, beat_body(seq), content_type="application/json", **extra)


def beats_recorded() -> int:
    return StudyRecord.objects.filter(kind="heartbeat").count()


@pytest.mark.parametrize("path", ["fast", "api"])
def test_sec_lrn_01_the_sign_in_that_opened_the_page_is_credited(path, lesson, world, api_client, clock):
    client = api_client(world.learner_nanshan)
    player = Player(client, clock, lesson.pk)
    clock.shift(15)
    answer = send(client, player, path)
    assert answer.status_code == 200, answer.content
    assert answer.json()["credited_seconds"] == pytest.approx(15)
    if path == "fast":
        assert not answer.delegated  # answered without the page stack, credential checked in the same read


@pytest.mark.parametrize("path", ["fast", "api"])
def test_sec_lrn_01_another_users_token_is_refused(path, lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    # Another learner, signed in and enrolled in the same programme, holds the page's key.
    programme = Enrolment.objects.get(learner=world.learner_nanshan).programme
    enrolment_create(learner=world.learner_futian, programme=programme)
    stranger = api_client(world.learner_futian)
    clock.shift(15)
    answer = send(stranger, player, path)
    assert answer.status_code == 403, answer.content
    assert answer.json()["code"] == "sign_in_mismatch"
    assert CHINESE.search(answer.json()["message"])
    assert beats_recorded() == 0


@pytest.mark.parametrize("path", ["fast", "api"])
@pytest.mark.parametrize("older", ["ended", "still_open"])
def test_sec_lrn_01_another_sign_in_of_the_same_learner_is_refused(
    path, older, lesson, world, api_client, clock
):
    """The learner's own key with another sign-in of theirs: after a new sign-in (which ends the one that opened
    the page, ACC-05), or beside it (a second token both open, as a sign-in waiting for its second factor is)."""
    learner = world.learner_nanshan
    opener = api_client(learner)
    player = Player(opener, clock, lesson.pk)
    player.beat()  # the page works with the sign-in that opened it
    if older == "ended":
        other = api_client(learner)  # signs in again: the page's sign-in ends
        assert not AuthSession.objects.get(pk=player_signin(player).pk).is_open
    else:
        token = "a-second-token-of-the-same-learner"
        AuthSession.objects.create(user=learner, kind=SessionKind.API, key_digest=token_digest(token))
        other = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    clock.shift(15)
    answer = send(other, player, path, seq=2)
    assert answer.status_code == 403, answer.content
    assert answer.json()["code"] == "sign_in_mismatch"
    assert "另一次登录" in answer.json()["message"]
    assert beats_recorded() == 1


@pytest.mark.parametrize("path", ["fast", "api"])
def test_sec_lrn_01_a_beat_without_credentials_is_refused(path, lesson, world, api_client, clock):
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    clock.shift(15)
    # The key alone, sent as a page script would (with a CSRF token), but without a sign-in.
    anonymous = Client()
    answer = send(anonymous, player, path, **with_csrf(anonymous))
    assert answer.status_code == 401, answer.content
    assert answer.json()["code"] == "not_authenticated"
    assert CHINESE.search(answer.json()["message"])
    # And the key with nothing else at all.
    answer = send(Client(), player, path, seq=2)
    assert answer.status_code in (401, 403), answer.content
    assert beats_recorded() == 0


def player_signin(player: Player) -> AuthSession:
    from safetrain.learning.models import StudySession

    return StudySession.objects.get(pk=player.session["id"]).auth_session


def with_csrf(client: Client) -> dict[str, str]:
    """What a page script sends to the full stack: the CSRF cookie and the same token in its header."""
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return {"x_csrftoken": token}


def test_sec_lrn_01_a_page_opened_by_a_browser_session_beats_with_its_cookie(lesson, world, clock):
    """The player in a browser: the page opens its study session with the session cookie and sends every beat with
    the key and that cookie (same-origin fetch). Answered by the hot path; another learner's browser session
    with the key is refused."""
    browser = web_client_for(world.learner_nanshan)
    token = with_csrf(browser)
    opened = browser.post(
        "/api/v1/study-sessions",
        {"lesson_id": lesson.pk},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token["x_csrftoken"],
    )
    assert opened.status_code == 200, opened.content
    page = opened.json()
    url = f"/api/v1/study-sessions/{page['id']}/heartbeats"
    clock.shift(15)
    answer = wsgi_post(browser, url, beat_body(), x_study_key=page["heartbeat_key"])
    assert answer.status_code == 200, answer.content
    assert not answer.delegated
    assert answer.json()["credited_seconds"] == pytest.approx(15)
    # Another learner's browser, with the key and a valid CSRF token: refused by the full stack.
    programme = Enrolment.objects.get(learner=world.learner_nanshan).programme
    enrolment_create(learner=world.learner_futian, programme=programme)
    other = web_client_for(world.learner_futian)
    csrf = with_csrf(other)
    clock.shift(15)
    answer = wsgi_post(other, url, beat_body(2), x_study_key=page["heartbeat_key"], **csrf)
    assert answer.delegated
    assert (answer.status_code, answer.json()["code"]) == (403, "sign_in_mismatch")
    assert beats_recorded() == 1
