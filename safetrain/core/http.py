"""Request helpers: the client's address behind the configured number of trusted proxies."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header


def bearer_matches(request: HttpRequest, token: str) -> bool:
    """`Authorization: Bearer <token>` for a machine caller (Prometheus, Alertmanager); an unset token matches none.
    Compared in constant time."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or ""


def user_agent(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return request.META.get("HTTP_USER_AGENT", "")[:400]


def axes_client_ip(request: HttpRequest) -> str:
    return client_ip(request)


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    """An Excel workbook as a download."""
    from safetrain.core.excel import XLSX

    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def pdf_response(data: bytes, filename: str) -> HttpResponse:
    """A PDF shown in the browser (printable), with its file name for saving."""
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response
