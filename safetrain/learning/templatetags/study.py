"""Template filters of the study pages."""

from __future__ import annotations

from django import template

from safetrain.core.display import clock

register = template.Library()
register.filter("clock", clock)
