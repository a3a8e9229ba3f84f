"""Requests through the production WSGI entry (config.wsgi: the hot paths in front of Django) with a Django test
client's cookies and default headers, as a WSGI server would make them; the answer says whether the full stack
answered (`delegated`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core import signals
from django.db import close_old_connections
from django.test.client import FakePayload


@dataclass
class WsgiAnswer:
    status: int
    content: bytes
    headers: dict[str, str]
    delegated: bool  # answered by the full Django stack, not by a hot path

    def json(self) -> Any:
        return json.loads(self.content)


def wsgi_call(client: Any, method: str, path: str, body: dict | bytes, **headers: str) -> WsgiAnswer:
    from config.wsgi import application, hot_path

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ = client._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD=method,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(len(data)),
        **{"wsgi.input": FakePayload(data)},
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    )
    answer: dict = {}
    delegated = []
    full_stack = hot_path.app

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    def counting(environ, start_response):
        delegated.append(True)
        return full_stack(environ, start_response)

    # As Django's test client does: the test's transaction must survive the request signals.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    hot_path.app = counting
    try:
        chunks = application(environ, start_response)
        content = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    finally:
        hot_path.app = full_stack
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return WsgiAnswer(answer["status"], content, answer["headers"], bool(delegated))
