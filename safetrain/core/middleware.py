"""Request-wide rules: the current request in a context variable (so services can write who/where into the audit
trail without every call site passing it along), the chosen language, proxy headers believed only from trusted
proxies, control characters refused in one place, and every /api/ error as the API's Chinese JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


class ChosenLanguageMiddleware:
    """Chinese unless the user chose another language with the switcher (UX-02).

    Django's LocaleMiddleware would follow the browser's Accept-Language, and many Chinese users' phones and
    computers send English; the platform's language is Chinese, English is a choice.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


# The X-Forwarded-* headers Django itself reads (SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST/PORT). X-Forwarded-For
# stays: core.http.client_ip weighs it against TRUSTED_PROXIES, and the metrics view refuses any request carrying it.
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")


class TrustedProxyMiddleware:
    """X-Forwarded-Proto, -Host and -Port count only from a trusted proxy (TRUSTED_PROXIES, e.g. the local nginx):
    from any other address they are dropped before Django reads them, so a client cannot claim HTTPS (and get
    past the HTTPS redirect and the secure-cookie rules) or another host name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from safetrain.core.http import trusted_proxy

        if not trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)


# C0 control characters: refused in every text a request carries, except tab, line feed and carriage return,
# which a text area may hold. NUL is among them (PostgreSQL text cannot hold it: a 500 instead of a refusal).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The same as JSON escapes (\u0000 ... \u001f, but not \u0009, \u000a, \u000d), after an even number of backslashes.
JSON_CONTROL = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])")
# A surrogate escape (\ud800 ... \udfff) after an even number of backslashes: paired it is fine, alone it is not.
JSON_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ControlCharacterMiddleware:
    """One place that refuses control characters in the path, the query string, form fields (names, values, file
    names) and JSON bodies: a 400 with a Chinese message, JSON with a code under /api/, a plain page otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal:
            from django.utils.translation import gettext_lazy

            from safetrain.core.views import error_response

            if refusal == "bad_encoding":
                texts = (
                    gettext_lazy("Bad request"),
                    gettext_lazy("The request body is not UTF-8 text."),
                    gettext_lazy("Send the body as JSON encoded in UTF-8."),
                )
            else:
                texts = (
                    gettext_lazy("Bad request"),
                    gettext_lazy(
                        "The request contains control characters (such as NUL) that no text may hold."
                    ),
                    gettext_lazy("Please check what you typed or pasted, remove them and try again."),
                )
            return error_response(request, 400, code=refusal, texts=texts)
        return self.get_response(request)

    @classmethod
    def _refusal(cls, request: HttpRequest) -> str:
        """ "control_characters", "bad_encoding", or "" when the request may go on."""
        return "control_characters" if cls._controls(request) else cls._body_refusal(request)

    @staticmethod
    def _controls(request: HttpRequest) -> bool:
        if CONTROL.search(request.path_info) or CONTROL.search(request.META.get("QUERY_STRING", "")):
            return True
        if any(CONTROL.search(k) or any(CONTROL.search(v) for v in vs) for k, vs in request.GET.lists()):
            return True
        if request.method in ("GET", "HEAD", "OPTIONS") or request.content_type not in FORM_TYPES:
            return False
        fields = request.POST.lists()
        if any(CONTROL.search(k) or any(CONTROL.search(v) for v in vs) for k, vs in fields):
            return True
        return any(CONTROL.search(f.name or "") for f in request.FILES.values())

    @staticmethod
    def _body_refusal(request: HttpRequest) -> str:
        """A body the API reads as JSON, whatever its Content-Type says (django-ninja parses any body): UTF-8 only
        (json.loads would take UTF-16 too, NULs and all), no control characters raw or escaped, and no lone
        surrogate escapes (text no database column can hold)."""
        if request.method in ("GET", "HEAD", "OPTIONS") or request.content_type in FORM_TYPES:
            return ""
        if not (request.path_info.startswith("/api/") or request.content_type == "application/json"):
            return ""
        body = request.body
        if not body:
            return ""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "bad_encoding"
        escapes = b"\\u" in body  # (the escape patterns cost a try at every byte: most bodies hold none)
        if CONTROL.search(text) or (escapes and JSON_CONTROL.search(body)):
            return "control_characters"
        if escapes and JSON_SURROGATE.search(body) and _holds_lone_surrogate(text):
            return "control_characters"
        return ""


def _holds_lone_surrogate(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False  # not JSON: the API refuses it itself
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class ApiErrorMiddleware:
    """Every error under /api/ is the API's Chinese JSON `{"code", "message"}`: answers made outside the API's own
    handlers (django-ninja's 405 for a method an address does not take, anything else that is not JSON) are
    replaced by the one for their status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            from safetrain.core.views import error_response

            replaced = error_response(request, response.status_code)
            if response.has_header("Allow"):
                replaced["Allow"] = response["Allow"]
            return replaced
        return response
