from __future__ import annotations

from typing import Any

from django import template

from safetrain.learning.evidence import evidence_lines as _evidence_lines

register = template.Library()


@register.filter
def evidence_lines(evidence: Any) -> list[str]:
    return _evidence_lines(evidence)
