"""A reference server of the real-name system's API (INT-02) for the tests: a real HTTP server on 127.0.0.1 serving
projects, their workers (paged), on-site status and job codes from an in-memory data set, checking the API key.
`fail_on_page` makes that page of the workers answer 500 (a system failing half-way)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class RealNameData:
    api_key: str = "test-key"
    projects: dict[str, dict] = field(
        default_factory=dict
    )  # code -> {"name", "workers": [...], "on_site_count"?}
    fail_on_page: int | None = None
    requests: list[str] = field(default_factory=list)

    def worker(
        self,
        code: str,
        id_number: str,
        name: str,
        job_code: str = "",
        job_name: str = "",
        *,
        on_site=True,
        phone: str = "",
    ) -> dict:
        item = {
            "id_number": id_number,
            "name": name,
            "phone": phone,
            "job_code": job_code,
            "job_name": job_name,
            "on_site": on_site,
            "entered_on": "2026-11-01",
            "left_on": None if on_site else "2026-11-30",
        }
        self.projects[code]["workers"].append(item)
        return item


def start(data: RealNameData) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            data.requests.append(self.path)
            if self.headers.get("X-Api-Key") != data.api_key:
                return self._send(401, {"error": "bad key"})
            parts = url.path.strip("/").split("/")
            if len(parts) < 4 or parts[:3] != ["api", "v1", "projects"] or parts[3] not in data.projects:
                return self._send(404, {"error": "unknown project"})
            project = data.projects[parts[3]]
            workers = project["workers"]
            if len(parts) == 4:
                count = project.get("on_site_count", sum(1 for w in workers if w["on_site"]))
                return self._send(200, {"code": parts[3], "name": project["name"], "on_site_count": count})
            if parts[4:] != ["workers"]:
                return self._send(404, {"error": "no such resource"})
            query = parse_qs(url.query)
            page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["50"])[0])
            if data.fail_on_page == page:
                return self._send(500, {"error": "internal"})
            items = workers[(page - 1) * size : page * size]
            return self._send(200, {"items": items, "total": len(workers), "page": page, "page_size": size})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
