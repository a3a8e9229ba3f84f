"""The printable PDFs of an offline total test (EXM-08), made in the background.

A paper of 100+ questions takes seconds to lay out (about 12 s for the paper, 6 s for the key), too long for a
request. `pdf_request` queues the work once; the page polls `pdf_state` and offers the download when the file is
there. A paper never changes once made, so each PDF is made once and kept (in the non-public storage: the answer
key is served only through the access-checked view). Without a broker Celery runs eagerly and the file is ready as
soon as the request that asked for it commits.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from safetrain.assessment import offline
from safetrain.assessment.models import OfflineTestPaper

log = logging.getLogger(__name__)

KINDS = ("paper", "key")
FILE_TITLES = {"paper": "线下总测试卷", "key": "线下总测答案"}
RUNNING, READY, FAILED, NONE = "running", "ready", "failed", "none"
# How long a queued job counts as running: beyond it (a lost worker) the page offers to start again.
RUNNING_SECONDS = 600


def file_name(paper: OfflineTestPaper, kind: str) -> str:
    return f"offline_tests/{paper.pk}/{kind}-{paper.number}.pdf"


def download_name(paper: OfflineTestPaper, kind: str) -> str:
    return f"{FILE_TITLES[kind]}-{paper.number}.pdf"


def _flag(paper_id: int, kind: str) -> str:
    return f"assessment:offline-pdf:{paper_id}:{kind}"


def pdf_state(paper: OfflineTestPaper, kind: str) -> str:
    """ready (the file is there), running (queued or being made), failed, or none (never asked for)."""
    if default_storage.exists(file_name(paper, kind)):
        return READY
    return cache.get(_flag(paper.pk, kind)) or NONE


def pdf_request(*, paper: OfflineTestPaper, kind: str, actor: Any = None) -> str:
    """Queue the making of one PDF unless it is made or being made; returns the state after the call."""
    from safetrain.assessment.tasks import render_offline_pdf

    state = pdf_state(paper, kind)
    if state in (READY, RUNNING):
        return state
    cache.set(_flag(paper.pk, kind), RUNNING, RUNNING_SECONDS)
    paper_id = paper.pk
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No worker: the paper is already stored, so make the file now rather than after an outer commit.
        render_offline_pdf.delay(paper_id, kind)
    else:
        transaction.on_commit(lambda: render_offline_pdf.delay(paper_id, kind))
    return pdf_state(paper, kind)


def pdf_render(*, paper_id: int, kind: str) -> str:
    """Make and store one PDF (the task's body); a failure is recorded so that the page can offer a retry."""
    paper = OfflineTestPaper.objects.select_related("programme__profile", "organisation").get(pk=paper_id)
    name = file_name(paper, kind)
    if default_storage.exists(name):
        cache.delete(_flag(paper_id, kind))
        return name
    try:
        data = offline.paper_pdf(paper) if kind == "paper" else offline.key_pdf(paper)
        stored = default_storage.save(name, ContentFile(data))
    except Exception:
        log.exception("offline test PDF failed: paper %s, %s", paper_id, kind)
        cache.set(_flag(paper_id, kind), FAILED, RUNNING_SECONDS)
        raise
    cache.delete(_flag(paper_id, kind))
    return stored


def pdf_bytes(paper: OfflineTestPaper, kind: str) -> bytes:
    with default_storage.open(file_name(paper, kind), "rb") as handle:
        return handle.read()
