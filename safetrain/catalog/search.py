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
LETTERS_OR_DIGITS = re.compile(r"[a-zA-Z]+|[0-9]+(?:\.[0-9]+)*")


def tokens(text: str, *, for_query: bool = False) -> list[str]:
    """CJK runs as bigrams (single characters too in documents, so a one-character query finds them); Latin words
    and numbers lower-cased, split at letter/digit boundaries so "GB50194" and "GB 50194" meet."""
    out: list[str] = []
    for run in CJK_RUN.findall(text or ""):
        if len(run) == 1:
            out.append(run)
            continue
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
        if not for_query:
            out.extend(run)
    for word in WORD.findall(text or ""):
        parts = [p.lower() for p in LETTERS_OR_DIGITS.findall(word)]
        if for_query:
            out.extend(parts)
        else:
            out.append(word.lower())
            out.extend(p for p in parts if p != word.lower())
    return out


def search_document(*texts: str) -> str:
    seen: dict[str, None] = {}
    for text in texts:
        for token in tokens(text):
            seen.setdefault(token, None)
    # Padded with spaces so that a whole token can be matched with a plain substring test (the SQLite fallback).
    return f" {' '.join(seen)} "


def search(queryset: QuerySet, query: str) -> QuerySet:
    """Courses whose title or introduction contain every token of the query (same tokens on both databases)."""
    query = (query or "").strip()[:100]
    if not query:
        return queryset
    terms = list(dict.fromkeys(tokens(query, for_query=True)))
    if not terms:
        return queryset.none()
    if connection.vendor == "postgresql":
        # Tokens hold only CJK characters, ASCII letters, digits and dots: nothing tsquery could read as syntax.
        return queryset.annotate(_search=SearchVector("search_document", config="simple")).filter(
            _search=SearchQuery(" & ".join(terms), search_type="raw", config="simple")
        )
    condition = Q()
    for term in terms:
        condition &= Q(search_document__contains=f" {term} ")
    return queryset.filter(condition)
