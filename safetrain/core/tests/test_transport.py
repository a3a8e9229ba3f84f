"""OPS-06, ACC-08 (GB/T 22239 level 3): HTTPS and the browser's own defences.

With DEBUG off, plain HTTP is redirected to HTTPS (the health check and the metrics excepted) and HSTS is sent for a
year; X-Forwarded-* headers count only from a trusted proxy (TRUSTED_PROXIES); every page carries a
Content-Security-Policy that runs no inline script, and no template has one."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from conftest import web_client_for
from safetrain.core.http import client_ip

ROOT = Path(django_settings.BASE_DIR)
PROXY = "10.0.0.5"


@pytest.fixture
def behind_proxy(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = [ipaddress.ip_network(f"{PROXY}/32")]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    return settings


def production_settings(**env: str) -> dict[str, str]:
    """config.settings as production loads it (DEBUG off unless `env` says otherwise), in a process of its own."""
    names = ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    environment = {k: v for k, v in os.environ.items() if k not in ("SECURE_SSL_REDIRECT", "DEBUG")}
    environment.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "SAFETRAIN_ENV_FILE": "/nonexistent", **env}
    )
    code = f"import config.settings as s; print(repr({{n: getattr(s, n) for n in {names!r}}}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1]}
    return eval(result.stdout)  # noqa: S307 - our own repr of plain values


def test_ops_06_production_redirects_to_https_and_sends_hsts_for_a_year():
    production = production_settings()
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    debug = production_settings(DEBUG="true")
    assert debug["SECURE_SSL_REDIRECT"] is False
    assert debug["SECURE_HSTS_SECONDS"] == 0
    assert (
        production_settings(SECURE_HSTS_INCLUDE_SUBDOMAINS="false")["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    )
    # The old proxy count alone would believe anyone's X-Forwarded-* headers: refused with what to set instead.
    assert "TRUSTED_PROXIES" in production_settings(TRUSTED_PROXY_COUNT="1")["error"]


def test_ops_06_plain_http_is_redirected_but_health_and_metrics_answer_on_loopback(db, behind_proxy):
    client = Client(REMOTE_ADDR="127.0.0.1")
    page = client.get("/accounts/login/?next=/learn/")
    assert page.status_code == 301
    assert page["Location"] == "https://testserver/accounts/login/?next=/learn/"
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_ops_06_a_forged_forwarded_proto_from_a_non_proxy_address_is_not_believed(db, behind_proxy):
    forged = Client(REMOTE_ADDR="203.0.113.7").get(
        "/accounts/login/", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="evil.example"
    )
    assert forged.status_code == 301
    assert forged["Location"] == "https://testserver/accounts/login/"
    assert "Strict-Transport-Security" not in forged

    proxied = Client(REMOTE_ADDR=PROXY).get(
        "/accounts/login/", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="127.0.0.1"
    )
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_ops_06_the_client_address_is_taken_from_x_forwarded_for_only_behind_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    factory = RequestFactory()

    def ip(remote: str, forwarded: str = "") -> str:
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
        return client_ip(factory.get("/", REMOTE_ADDR=remote, **extra))

    assert ip("203.0.113.7", "198.51.100.1") == "203.0.113.7"  # not a proxy: its header is the client's own
    assert ip(PROXY, "198.51.100.1") == "198.51.100.1"
    # A client's own header comes first; the proxies (two here) append; the last hop before them is the client.
    assert ip(PROXY, "1.2.3.4, 198.51.100.1, 10.0.0.9") == "198.51.100.1"
    assert ip(PROXY, "not-an-address") == PROXY
    assert ip(PROXY) == PROXY
    settings.TRUSTED_PROXIES = []
    assert ip(PROXY, "198.51.100.1") == PROXY


CSP = "Content-Security-Policy"


def directives(response) -> dict[str, list[str]]:
    policy = response[CSP]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_ops_06_pages_errors_and_the_api_carry_a_content_security_policy_without_inline_scripts(world):
    anonymous = Client(raise_request_exception=False)
    signed_in = web_client_for(world.admin_nanshan)
    for response in (
        anonymous.get("/accounts/login/"),
        anonymous.get("/no-such-page/"),
        signed_in.get("/enterprise/people/"),
        signed_in.get("/api/v1/me"),
    ):
        policy = directives(response)
        assert policy["script-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        # What the camera and the player need: snapshots as data:/blob: images, blob: media and hls.js's worker.
        assert {"data:", "blob:"} <= set(policy["img-src"])
        assert "blob:" in policy["media-src"]
        assert "blob:" in policy["worker-src"]
        assert policy["connect-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-zA-Z][^<>]*?\son[a-z]+\s*=", re.IGNORECASE)


def test_ops_06_no_template_has_an_inline_script_or_event_handler():
    """What the policy would block: <script> without src (data in type="application/json" is fine) and on*=
    attributes. Pages use static modules instead (safetrain/static/safetrain/forms.js: data-autosubmit,
    data-select-all; quiz.js; exam.js; face-check.js)."""
    found = []
    for path in sorted((ROOT / "safetrain").rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)[:80]}")
    assert found == []
    assert INLINE_SCRIPT.search('<script>alert(1)</script><script type="module">x</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/a.js"></script><script type="application/json">{}')
    assert INLINE_HANDLER.search('<select name="x" onchange="this.form.submit()">')
    assert not INLINE_HANDLER.search('<option value="1" data-autosubmit>only one</option>')
