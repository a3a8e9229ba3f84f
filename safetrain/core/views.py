from __future__ import annotations

import ipaddress
import mimetypes
import posixpath
import sys
import time

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import translation
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.core import GaugeMetricFamily

from safetrain.core import metrics as core_metrics
from safetrain.core.context_processors import platform
from safetrain.core.http import bearer_matches
from safetrain.core.tasks import TICK_KEY


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for the reverse proxy: database, cache and static files."""
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
    try:
        # Pages need the hashed static files: a release without collectstatic is not ready.
        staticfiles_storage.url("safetrain/site.css")
        status["static"] = "ok"
    except ValueError:
        status["static"] = "error: collectstatic has not run"
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


# Error pages (handler400/403/404/500 in config.urls). They are rendered without the request, so that neither the
# sign-in nor the session nor the database is touched: a page still answers when PostgreSQL or Redis is down.
# Under /api/ the answer is the API's JSON error shape instead.

ERROR_TEXTS = {
    400: (
        gettext_lazy("Bad request"),
        gettext_lazy("The request could not be understood."),
        gettext_lazy("Please go back, reload the page and try again."),
    ),
    403: (
        gettext_lazy("No access"),
        gettext_lazy("Your account has no access to this page."),
        gettext_lazy("If you need it, ask your unit's administrator."),
    ),
    405: (
        gettext_lazy("Method not allowed"),
        gettext_lazy("This address does not accept this kind of request."),
        gettext_lazy("Please go back, reload the page and try again."),
    ),
    413: (
        gettext_lazy("Request too large"),
        gettext_lazy("The data sent is larger than the platform accepts."),
        gettext_lazy("Please send less at a time, or split it, and try again."),
    ),
    404: (
        gettext_lazy("Page not found"),
        gettext_lazy("There is no page at this address."),
        gettext_lazy("Please check the address, or start again from your desk."),
    ),
    500: (
        gettext_lazy("Something went wrong"),
        gettext_lazy("The platform could not complete this request. Nothing you entered before was lost."),
        gettext_lazy("Please try again. If it happens again, call customer service."),
    ),
    503: (
        gettext_lazy("Service temporarily unavailable"),
        gettext_lazy("The platform is busy or under maintenance. Nothing you saved was lost."),
        gettext_lazy("Please try again in a minute. If it lasts, call customer service."),
    ),
}
ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    500: "server_error",
    503: "service_unavailable",
}


def unavailable_cause(exc: BaseException | None) -> BaseException | None:
    """The exception in `exc`'s chain that means a backing service (database, Redis, broker) could not serve the
    request: the request may succeed if tried again, so it is a 503, not a 500."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError

    errors: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:  # pragma: no cover
        pass
    try:
        from kombu.exceptions import OperationalError as BrokerError

        errors.append(BrokerError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


UNAVAILABLE_ERRORS = _unavailable_errors()


def error_response(
    request: HttpRequest,
    status: int,
    *,
    code: str = "",
    texts: tuple[str, str, str] | None = None,
) -> HttpResponse:
    """The Chinese error page, or the API's `{"code", "message"}` under /api/, in the language the user chose.
    A status without texts of its own is told as a bad request (4xx) or a failure (5xx); `code` and `texts`
    (title, message, advice; lazy) say more than the status."""
    known = status if status in ERROR_TEXTS else (500 if status >= 500 else 400)
    title, message, advice = texts or ERROR_TEXTS[known]
    code = code or ERROR_CODES[known]
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    language = chosen if chosen in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE
    with translation.override(language):
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {
                    "code": code,
                    "message": f"{message}{'' if language.startswith('zh') else ' '}{advice}",
                },
                status=status,
                json_dumps_params={"ensure_ascii": False},
            )
        else:
            context = {
                "status": status,
                "title": title,
                "message": message,
                "advice": advice,
                **platform(request),
            }
            response = HttpResponse(loader.render_to_string("core/error.html", context), status=status)
        response.headers["Content-Language"] = language
    if status == 503:
        response.headers["Retry-After"] = "30"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A body past DATA_UPLOAD_MAX_MEMORY_SIZE (or too many fields) is a SuspiciousOperation, which Django answers
    # as a 400: it is told as what it is.
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return error_response(request, 413)
    return error_response(request, 400)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: most often a page left open past the sign-in's idle time, then submitted."""
    return error_response(request, 403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 404)


def error_500(request: HttpRequest) -> HttpResponse:
    """Django calls this inside its `except` block: a database or Redis that cannot be reached is a 503."""
    return error_response(request, 503 if unavailable_cause(sys.exc_info()[1]) else 500)


@csrf_exempt
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape (OPS-02): with `Authorization: Bearer METRICS_TOKEN`, or without a token from the
    internal networks only (METRICS_ALLOWED_NETWORKS, never through a proxy)."""
    if not _may_scrape(request):
        raise Http404
    body = core_metrics.exposition(_scrape_time_gauges())
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")


def _may_scrape(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        return bearer_matches(request, settings.METRICS_TOKEN)
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in settings.METRICS_ALLOWED_NETWORKS)


def _scrape_time_gauges() -> list:
    gauge = core_metrics.gauge
    reg = core_metrics.registry()
    rate = core_metrics.LOAD_METER.rate(core_metrics.requests_total(reg), settings.LOAD_WINDOW_SECONDS)
    families = [
        gauge("safetrain_node_info", "This web node (NODE_NAME).", 1, node_name=settings.NODE_NAME),
        gauge(
            "safetrain_design_load_requests_per_second",
            "The node's design load (measured capacity, bench/README.md).",
            settings.DESIGN_LOAD_RPS,
        ),
        gauge("safetrain_load_requests_per_second", "Requests per second over the load window.", rate),
        gauge(
            "safetrain_load_ratio",
            "The node's load as a fraction of its design load (OPS-02 warns at 0.7).",
            rate / settings.DESIGN_LOAD_RPS,
        ),
    ]
    families += _database_gauges() + _queue_gauges() + _registered_gauges()
    return families


def _registered_gauges() -> list:
    """What the apps' providers (core.metrics.scrape_gauges_register) read; a provider whose database does not
    answer adds nothing (safetrain_database_up tells that), it never fails the scrape."""
    families: list = []
    for provider in core_metrics.scrape_gauges_providers():
        try:
            families += provider()
        except DatabaseError:
            connection.close_if_unusable_or_obsolete()
    return families


def _database_gauges() -> list:
    gauge = core_metrics.gauge
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            if connection.vendor != "postgresql":
                return [gauge("safetrain_database_up", "The database answers.", 1)]
            cursor.execute(
                "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1"
            )
            by_state = cursor.fetchall()
            cursor.execute("SELECT current_setting('max_connections')::int")
            (max_connections,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            (streaming,) = cursor.fetchone()
            cursor.execute(
                "SELECT extract(epoch FROM last_archived_time), extract(epoch FROM last_failed_time) "
                "FROM pg_stat_archiver WHERE current_setting('archive_mode') <> 'off'"
            )
            archiver = cursor.fetchone()
    except DatabaseError:
        connection.close_if_unusable_or_obsolete()
        return [gauge("safetrain_database_up", "The database answers.", 0)]
    connections = GaugeMetricFamily(
        "safetrain_database_connections", "Connections to this database, by state.", labels=["state"]
    )
    for state, count in by_state:
        connections.add_metric([state], count)
    archive = []
    if archiver is not None:
        # WAL archiving (pgBackRest, OPS-03): a failure newer than the last success means the backups' point-in-time
        # recovery has stopped advancing (alert WalArchivingFailing).
        archived, failed = archiver
        if archived is not None:
            archive.append(
                gauge(
                    "safetrain_database_wal_archived_timestamp_seconds",
                    "Last WAL segment archived.",
                    archived,
                )
            )
        if failed is not None:
            archive.append(
                gauge(
                    "safetrain_database_wal_archive_failed_timestamp_seconds",
                    "Last failed attempt to archive a WAL segment.",
                    failed,
                )
            )
    return [
        *archive,
        gauge("safetrain_database_up", "The database answers.", 1),
        connections,
        gauge("safetrain_database_connections_max", "PostgreSQL's max_connections.", max_connections),
        gauge("safetrain_database_standbys_streaming", "Standbys streaming from this primary.", streaming),
        gauge(
            "safetrain_database_standbys_expected",
            "Standbys the deployment should have (DATABASE_STANDBYS_EXPECTED).",
            settings.DATABASE_STANDBYS_EXPECTED,
        ),
    ]


def _queue_gauges() -> list:
    """Celery's queues on the Redis broker, and how long ago a worker last ran the beat's tick (core.tick)."""
    gauge = core_metrics.gauge
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return []
    import redis

    lengths = GaugeMetricFamily(
        "safetrain_celery_queue_length", "Tasks waiting in a queue.", labels=["queue"]
    )
    try:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        for queue in settings.CELERY_QUEUES_WATCHED:
            lengths.add_metric([queue], broker.llen(queue))
        tick = cache.get(TICK_KEY)
    except Exception:  # noqa: BLE001 - any failure of the broker or cache means "down", never a failed scrape
        return [gauge("safetrain_redis_up", "Redis (broker and cache) answers.", 0)]
    families = [gauge("safetrain_redis_up", "Redis (broker and cache) answers.", 1), lengths]
    if tick is not None:
        families.append(
            gauge(
                "safetrain_celery_tick_age_seconds",
                "Seconds since a Celery worker last ran the beat's tick (core.tick, every minute).",
                max(0.0, time.time() - float(tick)),
            )
        )
    return families
