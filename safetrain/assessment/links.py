"""Links the learner's exam pages offer to what higher apps keep (the certificate an exam led to).

Assessment sits below certification and never imports it: certification registers a function here in its
``AppConfig.ready()`` that answers "the certificate of this enrolment, if any" as ``(number, url)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CertificateLink = tuple[str, str]  # (certificate number, URL of its page or PDF)

_certificate_finders: list[Callable[[Any], CertificateLink | None]] = []


def certificate_link_register(finder: Callable[[Any], CertificateLink | None]) -> None:
    """Register ``finder(enrolment) -> (number, url) | None``; registering the same function again is harmless."""
    if finder not in _certificate_finders:
        _certificate_finders.append(finder)


def certificate_link(enrolment: Any) -> CertificateLink | None:
    """The certificate this enrolment earned, as the first registered finder knows it, else None."""
    for finder in _certificate_finders:
        link = finder(enrolment)
        if link is not None:
            return link
    return None
