"""LRN-08: the first-visit guide's four steps are reported by the apps that know them (photo, study, exam,
certificate), so its highlighted step follows the learner."""

from __future__ import annotations

from safetrain.accounts import guide


def test_lrn_08_every_guide_step_is_reported_by_its_app_and_a_new_learner_has_done_none(world, web_client):
    assert set(guide._done) == {"photo", "study", "exam", "certificate"}
    done = [guide._done[step](world.learner_nanshan) for step in ("photo", "study", "exam", "certificate")]
    assert done == [False, False, False, False]
    page = web_client(world.learner_nanshan).get("/").content.decode()
    assert page.count('aria-current="step"') == 1
