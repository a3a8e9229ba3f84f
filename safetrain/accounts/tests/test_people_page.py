"""UX-02 (issue 27 item 20: search by name and paging on every list): 人员 finds a person by full name or ID number
(sent in the POST body, never in the address), pages the rest 50 at a time with the unit kept in the address, and
shows only the viewer's people. On a phone each person is a card (table.cards with labelled fields)."""

from __future__ import annotations

import re

from conftest import make_user
from safetrain.accounts.models import Role


def names_in(html: str) -> list[str]:
    table = html[html.index('data-testid="people"') :]
    return re.findall(r'title="[^"]*">([^<]+)</a>', table)


def test_ux_02_people_are_found_by_full_name_within_the_viewers_scope(world, web_client):
    client = web_client(world.admin_nanshan)
    found = client.post("/accounts/people/", {"name": " 班组学员 "})
    assert found.status_code == 200
    html = found.content.decode()
    assert names_in(html) == ["班组学员"]
    assert re.search(r'name="name" value="\s*班组学员\s*"', html)  # the search stays in the field
    assert "班组学员" not in found.get("Location", "")
    # Another unit's learner is not found by name, not even exactly.
    assert names_in(client.post("/accounts/people/", {"name": "福田学员"}).content.decode()) == []
    assert (
        names_in(
            client.post("/accounts/people/", {"id_number": world.learner_futian.id_number}).content.decode()
        )
        == []
    )
    assert names_in(
        client.post("/accounts/people/", {"id_number": world.learner_team.id_number.lower()}).content.decode()
    ) == ["班组学员"]


def test_ux_02_the_people_list_pages_and_keeps_the_unit_in_the_address(world, web_client):
    for n in range(55):
        make_user(world.project, Role.LEARNER, name=f"项目工人{n:02d}")
    client = web_client(world.admin_nanshan)
    # Choosing only a unit goes to an address that pages.
    chosen = client.post("/accounts/people/", {"organisation": world.project.pk, "name": "", "id_number": ""})
    assert chosen.status_code == 302
    assert chosen["Location"] == f"/accounts/people/?organisation={world.project.pk}"
    first = client.get(chosen["Location"]).content.decode()
    assert len(names_in(first)) == 50
    assert (
        f"organisation={world.project.pk}&amp;page=2" in first
        or f"organisation={world.project.pk}&page=2" in first
    )
    second = client.get(f"/accounts/people/?organisation={world.project.pk}&page=2").content.decode()
    assert len(names_in(second)) == 6  # 55 workers and the team's learner
    assert not set(names_in(first)) & set(names_in(second))


def test_ux_01_on_a_phone_each_person_is_a_card_with_labelled_fields(world, web_client):
    html = web_client(world.admin_nanshan).get("/accounts/people/").content.decode()
    assert '<table class="cards" data-testid="people">' in html
    row = re.search(r"<tbody><tr>(.*?)</tr>", html, re.S).group(1)
    assert row.count("data-label=") == 4
