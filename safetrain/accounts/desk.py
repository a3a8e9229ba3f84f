"""The desk (首页) is assembled from what each app contributes, so accounts never imports the apps above it.

An app registers in its ``AppConfig.ready()``:

- a *panel*: a template and a function returning its context for this request (``None`` hides the panel); its
  ``area`` is ``"main"`` (a card in the desk's grid) or ``"top"`` (a notice above it, such as a survey invitation);
- a *to-do*: a label, a URL and a function counting what waits for this user (``None`` when it is not theirs). A
  count must respect the viewer's scope (``visible_to`` / ``administered_by``), as the page it links to does.

The desk shows the to-dos of administrators as a row of counts (“待办”), zeros included, so that an empty queue
reads as done rather than as missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any] | None]
    order: int = 100
    area: str = "main"


@dataclass(frozen=True)
class Todo:
    name: str
    label: Any  # a lazy translation
    url_name: str
    count: Callable[[Any], int | None]
    order: int = 100
    query: str = ""  # e.g. "status=submitted": the list already filtered to what waits


_panels: dict[str, Panel] = {}
_todos: dict[str, Todo] = {}


def panel_register(
    *,
    name: str,
    template: str,
    context: Callable[[HttpRequest], dict | None],
    order: int = 100,
    area: str = "main",
) -> None:
    _panels[name] = Panel(name=name, template=template, context=context, order=order, area=area)


def todo_register(
    *,
    name: str,
    label: Any,
    url_name: str,
    count: Callable[[Any], int | None],
    order: int = 100,
    query: str = "",
) -> None:
    _todos[name] = Todo(name=name, label=label, url_name=url_name, count=count, order=order, query=query)


def desk_panels(request: HttpRequest) -> list[dict[str, Any]]:
    """The panels this request shows, in order, each with its template and context."""
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.name)):
        context = panel.context(request)
        if context is not None:
            shown.append(
                {"name": panel.name, "template": panel.template, "context": context, "area": panel.area}
            )
    return shown


def desk_todos(user: Any) -> list[dict[str, Any]]:
    """What waits for this user, with counts; items that are not theirs are left out, zero counts are kept."""
    shown = []
    for todo in sorted(_todos.values(), key=lambda t: (t.order, t.name)):
        count = todo.count(user)
        if count is not None:
            url = reverse(todo.url_name) + (f"?{todo.query}" if todo.query else "")
            shown.append({"name": todo.name, "label": todo.label, "url": url, "count": count})
    return shown
