"""UX-01 / UX-02 / LRN-08 (issue 27 items 5 and 20): the main menu is grouped for staff and compact on a phone (a tab
bar of the learner's five places), every menu link opens for the person who sees it, and the desk (首页) shows
administrators the counts of what waits for them, from what each app registers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from safetrain.accounts.desk import desk_todos
from safetrain.accounts.menus import main_menu

ACCOUNTS = Path(__file__).resolve().parents[1]
# Apps above accounts (STYLE.md's dependency direction): accounts imports none of them.
ABOVE_ACCOUNTS = (
    "catalog",
    "proctoring",
    "learning",
    "assessment",
    "certification",
    "enterprise",
    "regulator",
    "integrations",
)


def nav_of(html: str) -> str:
    return html[
        html.index('data-testid="main-nav"') : html.index("</nav>", html.index('data-testid="main-nav"'))
    ]


def tabbar_links(html: str) -> list[str]:
    match = re.search(r'<nav class="tabbar"[^>]*>(.*?)</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', match.group(1)) if match else []


def top_level_entries(nav: str) -> int:
    """Menu entries a person sees at first: plain links and group headings, not the links inside the groups."""
    outside = re.sub(r"<details.*?</details>", "<GROUP>", nav, flags=re.S)
    return outside.count("<GROUP>") + outside.count("<a ")


def test_ux_01_a_learner_has_a_short_menu_and_on_a_phone_a_tab_bar_of_five_places(world, web_client):
    html = web_client(world.learner_nanshan).get("/").content.decode()
    assert tabbar_links(html) == [
        "/",
        "/learn/",
        "/assessment/exams/",
        "/certificates/",
        "/accounts/profile/",
    ]
    assert 'aria-current="page"' in re.search(r'<nav class="tabbar".*?</nav>', html, re.S).group(0)
    # The phone folds the rest behind one "菜单" toggle (a checkbox and its label: no script needed).
    assert 'id="nav-toggle"' in html
    assert 'data-testid="menu-toggle"' in html
    nav = nav_of(html)
    assert 'data-menu="training"' not in nav  # no staff menus for a learner
    assert "/records/archive/" in nav
    assert "/certificates/" in nav


def test_ux_02_the_operators_pages_sit_in_a_handful_of_menus_and_none_is_lost(world, web_client):
    html = web_client(world.operator).get("/").content.decode()
    nav = nav_of(html)
    links = set(re.findall(r'href="([^"]+)"', nav))
    assert len(links) >= 28  # the ~30 pages of before, all still there
    assert top_level_entries(nav) <= 9
    for group in ("training", "people", "exams", "supervision", "operations", "account"):
        assert f'data-menu="{group}"' in nav
    assert tabbar_links(html) == []  # staff who are not learners get no learner's tab bar


@pytest.mark.parametrize(
    "persona",
    ["learner_nanshan", "admin_nanshan", "regulator_nanshan", "operator"],
)
def test_ux_02_every_menu_link_opens_for_whoever_sees_it(world, web_client, persona):
    user = getattr(world, persona)
    client = web_client(user)
    menu = main_menu(user, "/")
    urls = [e["link"]["url"] for e in menu["entries"] if "link" in e]
    urls += [link["url"] for e in menu["entries"] for link in e.get("links", [])]
    urls += [link["url"] for link in menu["account"]] + [link["url"] for link in menu["tabs"]]
    assert urls
    for url in dict.fromkeys(urls):
        response = client.get(url)
        assert response.status_code == 200, (persona, url, response.status_code)


def test_ux_02_the_current_page_is_marked_in_its_menu(world, web_client):
    html = web_client(world.admin_nanshan).get("/records/audit/").content.decode()
    nav = nav_of(html)
    assert re.search(r'<details class="menu-group current" data-menu="supervision">', nav)
    assert re.search(r'<a href="/records/audit/" aria-current="page">', nav)


def test_lrn_08_the_desk_counts_what_waits_for_each_administrator(world, web_client):
    operator = web_client(world.operator).get("/").content.decode()
    for name in ("applications", "invoices", "suspicious_study", "complaints", "photos"):
        assert f'data-testid="todo-{name}"' in operator
    admin = web_client(world.admin_nanshan).get("/").content.decode()
    assert 'data-testid="todo-photos"' in admin
    assert 'data-testid="todo-applications"' in admin
    assert 'data-testid="todo-suspicious_study"' not in admin  # the review queue is the operators'
    regulator = {t["name"] for t in desk_todos(world.regulator_nanshan)}
    assert regulator == {"complaints"}
    learner = web_client(world.learner_nanshan).get("/").content.decode()
    assert 'data-testid="todos"' not in learner
    # Each count links to its list, and a zero reads as done.
    assert re.search(
        r'<li data-testid="todo-photos" class="none"><a href="/proctoring/photos/review/">', admin
    )


def test_lrn_08_the_learners_photo_card_and_the_survey_come_from_their_apps(world, web_client):
    html = web_client(world.learner_nanshan).get("/").content.decode()
    assert 'data-testid="photo-card"' in html
    assert 'data-testid="learner-card"' in html
    assert 'data-testid="photo-card"' not in web_client(world.admin_nanshan).get("/").content.decode()


def test_ux_01_the_accounts_views_import_nothing_above_accounts():
    for module in ("views.py", "desk.py", "menus.py"):
        tree = ast.parse((ACCOUNTS / module).read_text(encoding="utf-8"))
        imported = [
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        ] + [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        upward = [
            name for name in imported if name.split(".")[:2] in (["safetrain", a] for a in ABOVE_ACCOUNTS)
        ]
        assert upward == [], (module, upward)


def test_ux_01_certificates_and_archive_rows_become_labelled_cards_on_a_phone():
    """我的证书 and 我的档案 use the shared table.cards pattern: every cell names its column, so a phone shows each
    row as a card with the PDF download in it instead of columns off-screen."""
    from types import SimpleNamespace

    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.urls import reverse

    request = RequestFactory().get("/certificates/")
    request.user = SimpleNamespace(is_authenticated=False)
    certificate = SimpleNamespace(
        number="GD2026000001",
        get_kind_display="合格证明",
        programme_name="主要负责人初训",
        issued_on="2026-12-01",
        valid_until=None,
        get_state_display="有效",
        mailings=SimpleNamespace(all=list),
    )
    html = render_to_string("certification/mine.html", {"certificates": [certificate]}, request=request)
    row = re.search(r"<tbody><tr>(.*?)</tr>", html, re.S).group(1)
    assert '<table class="cards"' in html
    assert row.count("<td data-label=") == row.count("<td") == 7
    pdf = reverse("certification:pdf", args=["GD2026000001"])
    assert re.search(rf'<td data-label="[^"]+"><a class="button" href="{pdf}"', row)  # the download, labelled
    archive = render_to_string(
        "records/archive.html",
        {
            "subject": SimpleNamespace(name="王建国"),
            "archive": SimpleNamespace(
                identity=[],
                sections=[
                    SimpleNamespace(title="人脸核验", columns=["时间", "结果"], rows=[["2026-12-01", "通过"]])
                ],
            ),
        },
        request=request,
    )
    assert '<table class="cards">' in archive
    assert '<td data-label="时间">2026-12-01</td><td data-label="结果">通过</td>' in archive


def test_ux_01_the_shared_layout_patterns_are_in_the_style_sheet():
    css = (ACCOUNTS.parent / "static" / "safetrain" / "site.css").read_text(encoding="utf-8")
    for rule in (
        "table.cards td[data-label]::before",
        ".table-scroll",
        "button:disabled",
        ".todos",
        ".tabbar",
    ):
        assert rule in css
    assert re.search(r"@media \(max-width: 640px\) \{\s*table\.cards", css)
