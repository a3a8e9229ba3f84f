"""OPS-02: exam answers saved are counted for /metrics; refused answers are not."""

from __future__ import annotations

from prometheus_client import REGISTRY

from safetrain.assessment.tests.conftest import put, right_positions, start, studied


def saved() -> float:
    return REGISTRY.get_sample_value("safetrain_exam_answers_saved_total") or 0.0


def test_ops_02_exam_answers_saved_are_counted(programme, world, api_client):
    studied(world.learner_nanshan, programme)
    client = api_client(world.learner_nanshan)
    paper = start(client, programme).json()
    before = saved()
    for question in paper["questions"][:3]:
        assert put(client, paper, question, right_positions(question)).status_code == 200
    assert (
        put(client, paper, {"id": 10**9}, [0]).status_code >= 400
    )  # not on this paper: refused, not counted
    assert saved() - before == 3
