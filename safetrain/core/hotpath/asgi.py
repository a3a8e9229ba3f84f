"""The hot paths under ASGI: the same routes and handlers as the WSGI entry (dispatch.HotPath), run in a worker
thread (they block on the database); every other request, and every one they hand back, goes to Django's ASGI
application with its body replayed."""

from __future__ import annotations

from typing import Any

import orjson
from asgiref.sync import sync_to_async

from safetrain.core.hotpath import dispatch


def environ_of(scope: dict[str, Any]) -> dict[str, Any]:
    """What the routes read of a request, in WSGI's names."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "PATH_INFO": scope["path"],
        "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            name = f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[name] = f"{environ[name]},{value}" if name in environ else value
    return environ


class HotPathASGI:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._serve = sync_to_async(dispatch.serve, thread_sensitive=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        environ = environ_of(scope)
        found = dispatch.match(environ)
        length = dispatch.content_length(environ) if found else None
        if found is None or length is None:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        answer = await self._serve(*found, environ, body) if len(body) == length else None
        if answer is None:
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        status, data, timing = answer
        payload = orjson.dumps(data)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in dispatch.headers(payload, timing)],
            }
        )
        await send({"type": "http.response.body", "body": payload})
