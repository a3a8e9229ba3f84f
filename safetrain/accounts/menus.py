"""The main menu (UX-01, issue 27 item 20): who sees which page, grouped so that staff meet a handful of menus.

Pages of the apps above accounts are named by URL name only (a string), so this module imports nothing above
accounts. To add a page to the menu, add one ``Item`` to the right group with the test that says who may open it.

- A learner (and nobody else) gets a flat menu and, on a phone, a bottom tab bar with the five places they use.
- Staff get one menu per area (培训管理 / 人员与单位 / 考试 / 证书 / 监管 / 运维); a group with a single page is a
  plain link, and a group with none is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.accounts.models import Role


@dataclass(frozen=True)
class Viewer:
    """What the menu needs to know about the signed-in user, worked out once per request."""

    roles: frozenset[str]
    everything: bool  # operator or superuser
    is_staff: bool

    @property
    def learner(self) -> bool:
        return Role.LEARNER in self.roles

    @property
    def regulator(self) -> bool:
        return Role.REGULATOR in self.roles

    @property
    def unit_admin(self) -> bool:
        return bool(self.roles & {Role.ENTERPRISE_ADMIN, Role.INSTITUTION_ADMIN})

    @property
    def staff(self) -> bool:
        return self.everything or self.regulator or self.unit_admin


Test = Callable[[Viewer], bool]


def _everyone(v: Viewer) -> bool:
    return True


def _learner(v: Viewer) -> bool:
    return v.learner


def _staff(v: Viewer) -> bool:
    return v.staff


def _operator(v: Viewer) -> bool:
    return v.everything


def _regulator_or_operator(v: Viewer) -> bool:
    return v.regulator or v.everything


def _regulator(v: Viewer) -> bool:
    return v.regulator


def _institution_admin(v: Viewer) -> bool:
    return Role.INSTITUTION_ADMIN in v.roles


def _unit_admin_or_operator(v: Viewer) -> bool:
    return v.unit_admin or v.everything


def _admin_site(v: Viewer) -> bool:
    return v.is_staff


@dataclass(frozen=True)
class Item:
    label: Any
    url_name: str
    test: Test = _everyone


@dataclass(frozen=True)
class Group:
    name: str
    label: Any
    items: tuple[Item, ...] = field(default_factory=tuple)


# Learners' own pages; the first five are the phone's bottom tab bar.
LEARNER_ITEMS = (
    Item(_("My training"), "learning:my_programmes"),
    Item(_("My exams"), "assessment:my_exams", _learner),
    Item(_("My certificates"), "certification:mine", _learner),
    Item(_("My archive"), "records:my_archive", _learner),
    Item(_("Wrong-answer book"), "assessment:wrong_book", _learner),
    Item(_("Courses"), "learning:catalogue"),
    Item(_("Enrolment"), "enrolment:calls"),
)
TABS = (
    Item(pgettext_lazy("tab", "Home"), "home"),
    Item(_("My training"), "learning:my_programmes"),
    Item(_("My exams"), "assessment:my_exams"),
    Item(_("My certificates"), "certification:mine"),
    Item(pgettext_lazy("tab", "Me"), "accounts:profile"),
)
STAFF_GROUPS = (
    Group(
        "training",
        _("Training management"),
        (
            Item(_("Training classes"), "enterprise:classes", _unit_admin_or_operator),
            Item(_("Training summary"), "enterprise:summary", _unit_admin_or_operator),
            Item(_("Project training report"), "enterprise:report", _staff),
            Item(_("Offline sessions"), "learning:offline_sessions", _unit_admin_or_operator),
            Item(_("Enrolment review"), "enrolment:manage", _unit_admin_or_operator),
            Item(_("My applications"), "enrolment:mine", _unit_admin_or_operator),
            Item(_("Enrolment"), "enrolment:calls"),
            Item(_("Courses"), "learning:catalogue"),
            Item(_("Course review"), "catalog:review", _operator),
            Item(_("Videos"), "catalog:videos", _operator),
        ),
    ),
    Group(
        "people",
        _("People and units"),
        (
            Item(_("People"), "accounts:people", _staff),
            Item(_("Staff on site"), "enterprise:people", _unit_admin_or_operator),
            Item(_("Real-name system sync"), "enterprise:realname", _unit_admin_or_operator),
            Item(_("Institution registration"), "regulator:apply", _institution_admin),
            Item(_("Institution registrations"), "regulator:registrations", _regulator),
        ),
    ),
    Group(
        "exams",
        _("Exams"),
        (
            Item(_("Question banks"), "assessment:bank", _operator),
            Item(_("Offline total tests"), "assessment:offline_tests", _unit_admin_or_operator),
            Item(_("Identity checks during exams"), "assessment:identity_checks", _unit_admin_or_operator),
        ),
    ),
    Group(
        "certificates",
        _("Certificates"),
        (Item(_("Issued certificates"), "certification:issued", _staff),),
    ),
    Group(
        "supervision",
        _("Supervision"),
        (
            Item(_("Training statistics"), "regulator:dashboard", _regulator_or_operator),
            Item(_("Search learners"), "regulator:learner_search", _regulator_or_operator),
            Item(_("Complaints to handle"), "regulator:feedback_manage", _staff),
            Item(_("Satisfaction survey results"), "regulator:survey_results_latest", _regulator_or_operator),
            Item(_("Suspicious study"), "learning:review_queue", _operator),
            Item(_("Photo review"), "proctoring:photo_review", _unit_admin_or_operator),
            Item(_("Face checks"), "proctoring:checks", _staff),
            Item(_("Operation log"), "records:audit", _staff),
        ),
    ),
    Group(
        "operations",
        _("Operations"),
        (
            Item(_("Alarm log"), "ops:alarms", _operator),
            Item(_("Backups"), "ops:backups", _operator),
            Item(_("Administration"), "admin:index", _admin_site),
        ),
    ),
)
ACCOUNT_ITEMS = (
    Item(_("Profile"), "accounts:profile"),
    Item(_("Complaints and feedback"), "regulator:feedback"),
)


def viewer_of(user: Any) -> Viewer:
    return Viewer(
        roles=frozenset(user.roles()), everything=user.sees_everything(), is_staff=bool(user.is_staff)
    )


def _link(item: Item, path: str) -> dict[str, Any] | None:
    try:
        url = reverse(item.url_name)
    except NoReverseMatch:  # a page not installed in this deployment
        return None
    current = path == url or (url != "/" and path.startswith(url))
    return {"label": item.label, "url": url, "current": current, "name": item.url_name}


def _links(items: tuple[Item, ...], viewer: Viewer, path: str) -> list[dict[str, Any]]:
    links = [_link(i, path) for i in items if i.test(viewer)]
    return [link for link in links if link is not None]


def main_menu(user: Any, path: str = "") -> dict[str, Any]:
    """The signed-in user's menu: ``entries`` (plain links and groups of links, in order), ``account`` links and
    ``tabs`` (the phone's bottom tab bar, learners only; empty otherwise)."""
    viewer = viewer_of(user)
    entries: list[dict[str, Any]] = [{"link": _link(Item(_("My desk"), "home"), path)}]
    if viewer.staff:
        if viewer.learner:
            learning = _links(LEARNER_ITEMS, viewer, path)
            entries.append({"group": "learning", "label": _("My learning"), "links": learning})
        for group in STAFF_GROUPS:
            links = _links(group.items, viewer, path)
            if len(links) == 1:
                entries.append({"link": links[0]})
            elif links:
                entries.append({"group": group.name, "label": group.label, "links": links})
    else:
        entries.extend({"link": link} for link in _links(LEARNER_ITEMS, viewer, path))
    for entry in entries:
        if "links" in entry:
            entry["current"] = any(link["current"] for link in entry["links"])
    tabs = _links(TABS, viewer, path) if viewer.learner else []
    if tabs:  # 首页 is current only on the desk itself
        tabs[0]["current"] = path == tabs[0]["url"]
    return {"entries": entries, "account": _links(ACCOUNT_ITEMS, viewer, path), "tabs": tabs}
