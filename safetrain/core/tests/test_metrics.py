"""OPS-02: /metrics in Prometheus' format, closed to the public, with the load as a fraction of the design load."""

from __future__ import annotations

import io
import ipaddress
import wsgiref.util

import pytest
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from safetrain.core.metrics import LoadMeter, RequestMetrics, route_group

pytestmark = pytest.mark.django_db


def scrape(client: Client, **headers) -> dict[str, list]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = family.samples
    return families


def test_ops_02_metrics_are_open_to_the_internal_network_only_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
    # Through the reverse proxy the address is the proxy's own: such a request is never trusted.
    proxied = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404


def test_ops_02_with_a_token_metrics_need_it_from_everywhere(settings):
    settings.METRICS_TOKEN = "s3cret-token"
    client = Client(REMOTE_ADDR="127.0.0.1")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    remote = Client(REMOTE_ADDR="203.0.113.9")
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_ops_02_the_scrape_holds_the_design_load_the_load_and_the_database(settings):
    settings.METRICS_TOKEN = ""
    settings.DESIGN_LOAD_RPS = 250.0
    settings.NODE_NAME = "web7"
    families = scrape(Client(REMOTE_ADDR="127.0.0.1"))
    assert families["safetrain_design_load_requests_per_second"][0].value == 250.0
    assert 0 <= families["safetrain_load_ratio"][0].value
    assert families["safetrain_database_up"][0].value == 1
    assert families["safetrain_node_info"][0].labels == {"node_name": "web7"}
    for name in ("safetrain_http_requests", "safetrain_http_request_duration_seconds"):
        assert name in families
    if connection.vendor == "postgresql":  # CI: PostgreSQL's own gauges (connections, limit, standbys)
        states = {sample.labels["state"] for sample in families["safetrain_database_connections"]}
        assert "active" in states  # this scrape's own query
        assert families["safetrain_database_connections_max"][0].value >= 1
        assert families["safetrain_database_standbys_streaming"][0].value == 0
        assert families["safetrain_database_standbys_expected"][0].value == 0


def test_ops_02_a_method_outside_http_is_counted_as_other():
    def app(environ, start_response):
        start_response("405 Method Not Allowed", [])
        return [b""]

    before = sample("safetrain_http_requests_total", group="page", method="other", status="4xx")
    wsgi_call(RequestMetrics(app), "/learn/", "BREW")
    assert sample("safetrain_http_requests_total", group="page", method="other", status="4xx") == before + 1
    assert sample("safetrain_http_requests_total", group="page", method="BREW", status="4xx") == 0


def wsgi_call(app, path: str, method: str = "GET") -> str:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO()}
    wsgiref.util.setup_testing_defaults(environ)
    seen = []
    body = app(environ, lambda status, headers, exc_info=None: seen.append(status))
    b"".join(body)
    return seen[0]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_ops_02_every_request_is_counted_and_timed_by_route_group():
    def app(environ, start_response):
        status = "404 Not Found" if environ["PATH_INFO"] == "/missing" else "200 OK"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = RequestMetrics(app)
    before_page = sample("safetrain_http_requests_total", group="page", method="GET", status="2xx")
    before_404 = sample("safetrain_http_requests_total", group="page", method="GET", status="4xx")
    before_beat = sample("safetrain_http_requests_total", group="heartbeat", method="POST", status="2xx")
    before_timed = sample("safetrain_http_request_duration_seconds_count", group="exam_answer")
    wsgi_call(wrapped, "/learn/")
    wsgi_call(wrapped, "/missing")
    wsgi_call(wrapped, "/api/v1/study-sessions/12/heartbeats", "POST")
    wsgi_call(wrapped, "/api/v1/attempts/3/answers/7", "PUT")
    assert (
        sample("safetrain_http_requests_total", group="page", method="GET", status="2xx") == before_page + 1
    )
    assert sample("safetrain_http_requests_total", group="page", method="GET", status="4xx") == before_404 + 1
    after_beat = sample("safetrain_http_requests_total", group="heartbeat", method="POST", status="2xx")
    assert after_beat == before_beat + 1
    assert sample("safetrain_http_request_duration_seconds_count", group="exam_answer") == before_timed + 1


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/api/v1/study-sessions/5/heartbeats", "heartbeat"),
        ("/api/v1/attempts/5/answers/9", "exam_answer"),
        ("/api/v1/face-checks", "face_check"),
        ("/api/v1/enrollments", "api"),
        ("/static/vendor/htmx.min.js", "static"),
        ("/metrics", "internal"),
        ("/healthz", "internal"),
        ("/admin/", "admin"),
        ("/learn/", "page"),
    ],
)
def test_ops_02_route_groups(path, group):
    assert route_group(path) == group


def test_ops_02_the_load_is_the_request_rate_over_the_window_shared_by_the_nodes_processes(tmp_path):
    # Two worker processes of one node share the samples through the file beside their metrics.
    first, second = LoadMeter(tmp_path / "load.json"), LoadMeter(tmp_path / "load.json")
    assert first.rate(100, window=10, now=1000.0) == 0.0  # one sample: no rate yet
    assert second.rate(150, window=10, now=1005.0) == pytest.approx(10.0)  # 50 requests in 5 s
    assert first.rate(250, window=10, now=1010.0) == pytest.approx(15.0)  # 150 in 10 s (since t=1000)
    assert second.rate(250, window=10, now=1014.0) == pytest.approx(
        100 / 9
    )  # since t=1005, within the window
    assert first.rate(250, window=10, now=1040.0) == pytest.approx(
        0.0
    )  # scrapes far apart: since the last one
