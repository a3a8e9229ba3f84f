"""OPS-02: heartbeats credited are counted for /metrics, on the hot path and on the API path alike."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from safetrain.learning.tests.conftest import Player


def counted(credited: str) -> float:
    return REGISTRY.get_sample_value("safetrain_heartbeats_total", {"credited": credited}) or 0.0


def seconds() -> float:
    return REGISTRY.get_sample_value("safetrain_study_seconds_credited_total") or 0.0


@pytest.mark.parametrize("via", ["api", "fast"])
def test_ops_02_credited_heartbeats_and_seconds_are_counted(
    via, lesson, world, api_client, clock, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(Player, "via", via)
    player = Player(api_client(world.learner_nanshan), clock, lesson.pk)
    before_yes, before_no, before_seconds = counted("yes"), counted("no"), seconds()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            player.beat()
    assert counted("yes") - before_yes == 4
    assert counted("no") == before_no
    assert seconds() - before_seconds == pytest.approx(player.credited)
