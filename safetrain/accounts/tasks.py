"""Housekeeping of sign-in data (hourly, see CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from safetrain.accounts.services import auth_housekeeping


@shared_task(name="accounts.housekeeping")
def housekeeping() -> dict[str, int]:
    return auth_housekeeping()
