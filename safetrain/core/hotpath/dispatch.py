"""The hot paths' entry: WSGI middleware (and its ASGI twin) in front of Django for the requests every playing
learner and every exam candidate send all the time. A route registered here answers its request, or returns None
and the request goes, untouched, to the full Django stack, which applies every rule and answers with the API's
messages. Nothing else is served here.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connections
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation import gettext
from pydantic import BaseModel, ConfigDict, create_model

from safetrain.core.hotpath.db import ReadFailed
from safetrain.core.middleware import CONTROL, JSON_CONTROL, JSON_SURROGATE

logger = logging.getLogger(__name__)
MAX_BODY = 4096
SIGNIN_API, SIGNIN_WEB = "api", "web"  # accounts.SessionKind's values: a bearer token, a browser session

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class HotRequest:
    method: str
    args: tuple[str, ...]  # the route pattern's groups
    key: str  # the page key (core.hotpath.keys) from the route's header
    credential: tuple[str, str] | None  # the sign-in's secret and its kind (SIGNIN_API or SIGNIN_WEB)
    body: bytes
    META: dict[str, Any] = field(repr=False)  # the WSGI environ: core.http.client_ip and user_agent read it


# What a handler returns: the status and the JSON body, or None when the full stack must answer (nothing written).
Handler = Callable[[HotRequest, Any], tuple[int, dict[str, Any]] | None]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    key_header: str  # as WSGI names it: HTTP_X_STUDY_KEY
    handler: Handler


ROUTES: list[Route] = []


def body_model(name: str, schema: type[BaseModel]) -> type[BaseModel]:
    """An API body schema (a django-ninja Schema) as a plain pydantic model: the same fields and limits, without
    ninja's validator for reading ORM objects, which a JSON body never needs. A body it refuses goes to the full
    stack, which answers with the API's messages."""
    return create_model(
        name,
        __config__=ConfigDict(extra="ignore"),
        **{field_name: (f.annotation, f) for field_name, f in schema.model_fields.items()},
    )


def route_register(*, name: str, method: str, pattern: str, key_header: str, handler: Handler) -> None:
    """Called by the app owning the handler (its AppConfig.ready)."""
    if all(r.name != name for r in ROUTES):
        ROUTES.append(Route(name, method, re.compile(pattern), key_header, handler))


def credential(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The sign-in credential as the API's authentication reads it: a bearer token if the request has an
    Authorization header of that scheme, else the session cookie. None when there is neither."""
    header = environ.get("HTTP_AUTHORIZATION")
    if header:
        scheme, _space, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            return token, SIGNIN_API
    cookies = environ.get("HTTP_COOKIE")
    if cookies:
        key = parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME)
        if key:
            return key, SIGNIN_WEB
    return None


def match(environ: dict[str, Any]) -> tuple[Route, tuple[str, ...]] | None:
    method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
    for route in ROUTES:
        if method == route.method and environ.get(route.key_header):
            found = route.pattern.fullmatch(path)
            if found is not None:
                return route, found.groups()
    return None


def content_length(environ: dict[str, Any]) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if 0 < length <= MAX_BODY else None


def plain_text(environ: dict[str, Any], body: bytes) -> bool:
    """No query string, and a UTF-8 body without control characters or surrogate escapes, raw or escaped: anything
    else is the full stack's to refuse, with its messages (core.middleware.ControlCharacterMiddleware)."""
    if environ.get("QUERY_STRING"):
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if CONTROL.search(text):
        return False
    # (the escape patterns try every byte: most bodies hold no escape at all)
    return b"\\u" not in body or not (JSON_CONTROL.search(body) or JSON_SURROGATE.search(body))


def serve(
    route: Route, args: tuple[str, ...], environ: dict[str, Any], body: bytes
) -> tuple[int, dict, str] | None:
    """The route's answer (status, JSON body, Server-Timing), or None for the full stack."""
    started = time.perf_counter()
    signin = credential(environ)
    if signin is None or not plain_text(environ, body):
        return None  # no sign-in at all, or text to refuse: the full stack answers
    request = HotRequest(environ["REQUEST_METHOD"], args, environ[route.key_header], signin, body, environ)
    # As Django at the start and end of every request: a connection past its age or broken is dropped.
    connection = connections["default"]
    _tidy(connection)
    try:
        answer = route.handler(request, connection)
    except ReadFailed:
        logger.warning("%s: the read failed; the full stack answers", route.name, exc_info=True)
        answer = None
    except (DatabaseError, psycopg.Error):
        # Nothing was written (the transaction rolled back): the page keeps what it has and sends it again.
        logger.exception("%s failed", route.name)
        with translation.override(settings.LANGUAGE_CODE):
            error = {"code": "unavailable", "message": gettext("The service is busy. Please try again.")}
        return 503, error, route.name
    finally:
        _tidy(connection)
    if answer is None:
        return None
    return answer[0], answer[1], f"{route.name};dur={(time.perf_counter() - started) * 1000:.1f}"


def _tidy(connection: Any) -> None:
    # (never inside a caller's transaction, such as a test's: that connection is the caller's to keep)
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


_REASONS = {200: "200 OK", 503: "503 Service Unavailable"}


def headers(payload: bytes, timing: str) -> list[tuple[str, str]]:
    """The API's security headers (the full stack's middleware sets them on every other answer)."""
    return [
        ("Content-Type", "application/json; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
        ("Content-Language", settings.LANGUAGE_CODE),
        *(
            [("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}")]
            if settings.SECURE_HSTS_SECONDS
            else []
        ),
        ("Content-Length", str(len(payload))),
        ("Server-Timing", timing),  # answered here, not by the full stack: for operators and tests
    ]


class HotPath:
    """WSGI middleware: the registered routes are answered here, every other request goes to `app`."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = match(environ)
        length = content_length(environ) if found else None
        if found is None or length is None:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        answer = serve(*found, environ, body)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        status, data, timing = answer
        payload = orjson.dumps(data)
        start_response(_REASONS.get(status, f"{status} Error"), headers(payload, timing))
        return [payload]
