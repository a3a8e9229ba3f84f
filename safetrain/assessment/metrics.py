"""Exam metrics for /metrics (core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

ANSWERS_SAVED = Counter("safetrain_exam_answers_saved", "Exam answers saved (committed).")
