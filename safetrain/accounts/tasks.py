"""Housekeeping of sign-in data (hourly, see CELERY_BEAT_SCHEDULE) and the reset code by SMS."""

from __future__ import annotations

from celery import shared_task

from safetrain.accounts.services import auth_housekeeping, password_reset_code_send


@shared_task(name="accounts.housekeeping")
def housekeeping() -> dict[str, int]:
    return auth_housekeeping()


@shared_task(name="accounts.send_password_reset_code", ignore_result=True)
def send_password_reset_code(id_index: str, phone_index: str) -> None:
    """Queued for every accepted request, account or not (ACC-03): the message holds the login's blind indexes only,
    and the task returns nothing, so neither the broker nor the results tell whether an account exists."""
    password_reset_code_send(id_index=id_index, phone_index=phone_index)
