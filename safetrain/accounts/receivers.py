"""Authentication events into the audit trail (ACC-04, REC-03) and web sessions into AuthSession (ACC-05)."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from safetrain.accounts.models import SessionEndReason, SessionKind, User, id_index_of
from safetrain.accounts.services import auth_session_end, auth_session_start, two_factor_required
from safetrain.records.services import audit_log


@receiver(user_logged_in, dispatch_uid="safetrain_logged_in")
def on_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        if request.session.session_key is None:
            request.session.save()
        # Staff with a second factor end their other sessions only once it is verified (two_factor_view).
        auth_session_start(
            user=user,
            kind=SessionKind.WEB,
            secret=request.session.session_key,
            request=request,
            end_others=not two_factor_required(user),
        )
    audit_log(action="auth.login", actor=user, obj=user, request=request, detail={"channel": "web"})


@receiver(user_logged_out, dispatch_uid="safetrain_logged_out")
def on_logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if request is not None and getattr(request, "session", None) is not None and request.session.session_key:
        auth_session_end(secret=request.session.session_key, reason=SessionEndReason.LOGOUT)
    if user is not None:
        audit_log(action="auth.logout", actor=user, obj=user, request=request)


@receiver(user_login_failed, dispatch_uid="safetrain_login_failed")
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    raw = str(credentials.get("username") or "").strip().upper()
    index = id_index_of(raw) if raw else ""
    target = User.objects.by_login(raw).first() if raw else None
    audit_log(
        action="auth.login",
        result="failure",
        actor=None,
        object_type="accounts.user" if target else "",
        object_id=target.pk if target else "",
        organisation_id=target.primary_organisation_id if target else None,
        request=request,
        # Only a short prefix of the blind index: enough to group attempts, never the number itself.
        detail={"username_ref": index[:12], "known_account": target is not None},
    )


@receiver(user_locked_out, dispatch_uid="safetrain_locked_out")
def on_locked_out(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    """django-axes locked an account (ACC-04). `username` is already the blind index (AXES_USERNAME_CALLABLE)."""
    target = User.objects.filter(id_index=username).first() if username else None
    audit_log(
        action="auth.lockout",
        result="denied",
        object_type="accounts.user" if target else "",
        object_id=target.pk if target else "",
        organisation_id=target.primary_organisation_id if target else None,
        request=request,
        detail={"username_ref": (username or "")[:12]},
    )
