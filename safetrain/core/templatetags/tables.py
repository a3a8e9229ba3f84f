"""Helpers for the shared table patterns of site.css (``table.cards``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import template

register = template.Library()


@register.filter
def with_labels(row: Iterable[Any], columns: Sequence[Any]) -> list[tuple[Any, Any]]:
    """Pair each value of a row with its column heading, for ``<td data-label="…">`` in a ``table.cards``.

    ``{% for label, value in row|with_labels:columns %}<td data-label="{{ label }}">{{ value }}</td>{% endfor %}``
    """
    labels = list(columns)
    return [(labels[i] if i < len(labels) else "", value) for i, value in enumerate(row)]
