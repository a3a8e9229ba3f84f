"""The JSON API under /api/v1 (django-ninja), OpenAPI at /api/v1/openapi.json (INT-03).

Errors have one shape, in Chinese: `{"code", "message", "field"?}` for domain errors (status from the error type),
`{"code": "invalid_input", "message", "detail": [{"loc", "msg", "type"}]}` with 422 for malformed input, and
`{"code", "message"}` for everything else (a refused CSRF token, a body too large, a method an address does not take,
a control character; core.middleware.ApiErrorMiddleware catches what is answered outside these handlers): never a
500 for bad input.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from safetrain.accounts.api import router as accounts_router
from safetrain.accounts.apiauth import api_auth
from safetrain.assessment.api import router as assessment_router
from safetrain.catalog.api import router as catalog_router
from safetrain.certification.api import router as certification_router
from safetrain.core.errors import DomainError
from safetrain.core.views import error_response
from safetrain.learning.api import router as learning_router
from safetrain.orgs.api import router as orgs_router
from safetrain.proctoring.api import router as proctoring_router
from safetrain.records.api import router as records_router

api = NinjaAPI(
    title="SafeTrain API",
    version="1",
    urls_namespace="api",
    description="安训 安全生产网络培训平台 API. Authenticate with `POST /api/v1/auth/login`, then send "
    "`Authorization: Bearer <token>`.",
    auth=api_auth,
)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = [
        {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors
    ]
    fields = ", ".join(".".join(str(p) for p in d["loc"][1:] or d["loc"]) for d in detail)
    return api.create_response(
        request,
        {
            "code": "invalid_input",
            "message": _("The request data is not valid. Please check these fields: %(fields)s")
            % {"fields": fields},
            "detail": detail,
        },
        status=422,
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"code": "not_found", "message": _("Not found.")}, status=404)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, {"code": "not_authenticated", "message": _("Please sign in first.")}, status=401
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        # Malformed JSON is bad input like any other: 422 with where it went wrong.
        return api.create_response(
            request,
            {
                "code": "invalid_json",
                "message": _("The request body is not valid JSON. Please check quotes, commas and brackets."),
                "detail": [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}],
            },
            status=422,
        )
    if exc.status_code == 403 and str(exc) == "CSRF check Failed":
        # django-ninja's check for a browser session's unsafe request without a valid CSRF token.
        return error_response(
            request,
            403,
            code="csrf_failed",
            texts=(
                gettext_lazy("No access"),
                gettext_lazy(
                    "The page's security token is missing or out of date, so the request was refused."
                ),
                gettext_lazy("Please reload the page and try again."),
            ),
        )
    # Anything else django-ninja raises (its messages are English): the platform's text for the status.
    return error_response(request, exc.status_code)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A generated or hostile value the database cannot hold (an id past 64 bits, a text past its column): bad
    input like any other, so a 422, not a 500."""
    return api.create_response(
        request,
        {
            "code": "out_of_range",
            "message": _("A value in the request is out of the range the platform accepts. Please check it."),
        },
        status=422,
    )


@api.exception_handler(RequestDataTooBig)
def request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413)


api.add_router("/", accounts_router)
api.add_router("/", orgs_router)
api.add_router("/", records_router)
api.add_router("/", catalog_router)
api.add_router("/", learning_router)
api.add_router("/", proctoring_router)
api.add_router("/", assessment_router)
api.add_router("/", certification_router)
