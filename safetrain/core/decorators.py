"""View guards shared by every app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def staff_required(*roles: str) -> Callable:
    """Signed in, and an operator (who sees everything) or holding one of `roles`; others get the 403 page."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not (user.sees_everything() or (roles and user.has_role(*roles))):
                return render(request, "core/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
