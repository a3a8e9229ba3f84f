"""Request helpers: the client's address behind the trusted proxies (TRUSTED_PROXIES), downloads."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header


def bearer_matches(request: HttpRequest, token: str) -> bool:
    """`Authorization: Bearer <token>` for a machine caller (Prometheus, Alertmanager); an unset token matches none.
    Compared in constant time."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def trusted_proxy(address: str) -> bool:
    """Is `address` one of the reverse proxies (TRUSTED_PROXIES) whose X-Forwarded-* headers are believed?"""
    if not settings.TRUSTED_PROXIES:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: the peer's, or behind trusted proxies the last X-Forwarded-For hop that is not one of
    them (what a client writes into the header itself comes before that hop and is never taken)."""
    if request is None:
        return ""
    address = request.META.get("REMOTE_ADDR", "") or ""
    if not trusted_proxy(address):
        return address
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    for hop in reversed(forwarded):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address a proxy wrote: the last good hop stands
        address = hop
        if not trusted_proxy(hop):
            break
    return address


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
