"""Shared fixtures of the study tests: a lesson in a programme, a scripted player, a controllable clock."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass

import pytest
import time_machine

from safetrain.catalog.models import Video, VideoStatus
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.learning.services import enrolment_create
from tests.wsgi_client import wsgi_call

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def video_of(seconds: float) -> Video:
    # Crediting needs only the duration; no media files are read.
    return Video.objects.create(
        title=f"{seconds}s",
        original="videos/originals/x.mp4",
        status=VideoStatus.READY,
        duration_seconds=seconds,
        hls_prefix="videos/hls/none",
    )


@pytest.fixture
def lesson(world):
    course = course_create(code="CRED", title="学时课程", is_public=True)
    chapter = chapter_add(course=course, title="章")
    first = lesson_add(chapter=chapter, title="第一节", video=video_of(300))
    lesson_add(chapter=chapter, title="第二节", video=video_of(120))
    course_publish(course=course)
    programme = published_programme("cred", [course], profile="shenzhen_construction", required_minutes=7)
    enrolment_create(learner=world.learner_nanshan, programme=programme)
    return first


@dataclass
class WsgiAnswer:
    status_code: int
    content: bytes
    headers: dict[str, str]
    delegated: bool  # answered by the full Django stack, not the heartbeat's hot path

    def json(self):
        return json.loads(self.content)


def wsgi_post(client, path: str, body: dict | bytes, **headers: str) -> WsgiAnswer:
    """POST through the production WSGI entry (config.wsgi: the hot paths in front of Django) with the test client's
    cookies and default headers, as a WSGI server would call it."""
    answer = wsgi_call(client, "POST", path, body, **headers)
    return WsgiAnswer(answer.status, answer.content, answer.headers, answer.delegated)


class Player:
    """A scripted client: moves the server's clock and reports playback like the real player.

    `via` "api" posts heartbeats to the API through Django's test client; "fast" posts them with the page's
    heartbeat key through the production WSGI entry, where the hot path answers them."""

    via = "api"

    def __init__(self, client, traveller, lesson_id: int, via: str | None = None):
        self.via = via or Player.via
        self.delegated = 0
        self.client, self.traveller = client, traveller
        response = client.post(
            "/api/v1/study-sessions", {"lesson_id": lesson_id}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        self.session = response.json()
        self.seq = 0
        self.position = self.session["resume_position"]
        self.credited = 0.0

    def beat(self, wait: float = 15, advance: float | None = None, *, seq: int | None = None, **flags):
        self.traveller.shift(wait)
        self.seq = seq if seq is not None else self.seq + 1
        self.position += wait if advance is None else advance
        body = {
            "seq": self.seq,
            "position": self.position,
            "playing": True,
            "visible": True,
            "focused": True,
            "rate": 1,
            **flags,
        }
        path = f"/api/v1/study-sessions/{self.session['id']}/heartbeats"
        if self.via == "fast":
            response = wsgi_post(self.client, path, body, x_study_key=self.session["heartbeat_key"])
            self.delegated += response.delegated
        else:
            response = self.client.post(path, body, content_type="application/json")
        assert response.status_code == 200, response.content
        data = response.json()
        self.credited += data["credited_seconds"]
        return data


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
