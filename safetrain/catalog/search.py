"""Course search (CAT-04): PostgreSQL full-text over CJK bigrams, a plain substring fallback on SQLite.

PostgreSQL's text-search parsers do not split Chinese into words, so every run of CJK characters is indexed as
its overlapping bigrams (the approach of Lucene's CJKAnalyzer) next to the Latin words and numbers; a query is
turned into the same bigrams and all of them must match.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet

CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[0-9a-zA-Z]+(?:\.[0-9]+)*")


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for run in CJK_RUN.findall(text or ""):
        out.extend(run if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    out.extend(w.lower() for w in WORD.findall(text or ""))
    return out


def search_document(*texts: str) -> str:
    seen: dict[str, None] = {}
    for text in texts:
        for token in tokens(text):
            seen.setdefault(token, None)
    return " ".join(seen)


def search(
    queryset: QuerySet, query: str, *, fields: tuple[str, ...] = ("title", "introduction")
) -> QuerySet:
    query = (query or "").strip()[:100]
    if not query:
        return queryset
    if connection.vendor == "postgresql":
        terms = tokens(query)
        if not terms:
            return queryset.none()
        return queryset.annotate(_search=SearchVector("search_document", config="simple")).filter(
            _search=SearchQuery(" & ".join(terms), search_type="raw", config="simple")
        )
    condition = Q()
    for part in query.split():
        condition &= Q(**{f"{fields[0]}__icontains": part}) | Q(**{f"{fields[1]}__icontains": part})
    return queryset.filter(condition)
