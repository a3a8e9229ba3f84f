from __future__ import annotations

import mimetypes
import posixpath

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for the reverse proxy: database and cache status."""
    status = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        status["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("healthz", "1", 5)
        if cache.get("healthz") != "1":
            status["cache"] = "error: read-back failed"
    except Exception as exc:  # noqa: BLE001
        status["cache"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in status.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **status}, status=200 if ok else 503)


def public_file(request: HttpRequest, path: str) -> FileResponse:
    clean = posixpath.normpath(path)
    if (
        clean.startswith(("..", "/"))
        or not clean.startswith(tuple(settings.PUBLIC_MEDIA_PREFIXES))
        or not default_storage.exists(clean)
    ):
        raise Http404
    response = FileResponse(default_storage.open(clean, "rb"), content_type=mimetypes.guess_type(clean)[0])
    response["Cache-Control"] = "public, max-age=86400"
    return response
