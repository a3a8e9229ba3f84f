"""Connector to the construction real-name system (两制平台, 深圳市建筑业实名制和分账制管理平台) (INT-02, ENT-03).

The training platform is a sub-system of the real-name system: a project's people, their on-site status and job
codes come from there. `RealNameConnector` is what the sync needs; `HttpRealNameConnector` speaks the system's
HTTP/JSON API:

    GET {base}/api/v1/projects/{code}                       -> {"code", "name", "on_site_count"}
    GET {base}/api/v1/projects/{code}/workers?page=N&page_size=M
        -> {"items": [{"id_number", "name", "phone", "job_code", "job_name", "on_site", "entered_on", "left_on"}],
            "total", "page", "page_size"}

Every request carries `X-Api-Key` (settings.REALNAME_API_KEY). Teams are not part of the API: they are never
synced. Any failure (unreachable, refused, a malformed answer) raises `RealNameUnavailable` with a message in
Chinese; nothing is partially returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError

PAGE_SIZE = 200


class RealNameUnavailable(DomainError):
    status_code = 502


@dataclass(frozen=True)
class RemoteProject:
    code: str
    name: str
    on_site_count: int


@dataclass(frozen=True)
class RemoteWorker:
    id_number: str
    name: str
    phone: str
    job_code: str
    job_name: str
    on_site: bool


class RealNameConnector(Protocol):
    def project(self, code: str) -> RemoteProject: ...

    def workers(self, code: str) -> list[RemoteWorker]: ...


class HttpRealNameConnector:
    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        if not base_url:
            raise RealNameUnavailable(
                "realname_not_configured",
                _(
                    "The real-name system is not configured (REALNAME_BASE_URL). Please contact the platform operator."
                ),
            )
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"X-Api-Key": api_key}, timeout=timeout
        )

    def _get(self, path: str, **params: object) -> dict:
        try:
            response = self.client.get(path, params=params or None)
        except httpx.HTTPError as error:
            raise RealNameUnavailable(
                "realname_unreachable",
                _(
                    "The real-name system cannot be reached (%(error)s). Nothing was changed; please try again later."
                )
                % {"error": type(error).__name__},
            ) from error
        if response.status_code == 404:
            raise RealNameUnavailable(
                "realname_unknown_project",
                _(
                    "The real-name system does not know this project code. Check the project's real-name code."
                ),
            )
        if response.status_code in (401, 403):
            raise RealNameUnavailable(
                "realname_refused",
                _(
                    "The real-name system refused the platform's credentials. Please contact the platform operator."
                ),
            )
        if response.status_code != 200:
            raise RealNameUnavailable(
                "realname_error",
                _(
                    "The real-name system answered with an error (HTTP %(status)s). Nothing was changed; please try again later."
                )
                % {"status": response.status_code},
            )
        try:
            data = response.json()
            if not isinstance(data, dict):
                raise ValueError
            return data
        except ValueError as error:
            raise RealNameUnavailable(
                "realname_malformed",
                _("The real-name system sent an answer that cannot be read. Nothing was changed."),
            ) from error

    def project(self, code: str) -> RemoteProject:
        data = self._get(f"/api/v1/projects/{code}")
        try:
            return RemoteProject(str(data["code"]), str(data["name"]), int(data["on_site_count"]))
        except (KeyError, TypeError, ValueError) as error:
            raise RealNameUnavailable(
                "realname_malformed",
                _("The real-name system sent an answer that cannot be read. Nothing was changed."),
            ) from error

    def workers(self, code: str) -> list[RemoteWorker]:
        """Every worker of the project, all pages (or an error: never a partial list)."""
        workers: list[RemoteWorker] = []
        page = 1
        while True:
            data = self._get(f"/api/v1/projects/{code}/workers", page=page, page_size=PAGE_SIZE)
            try:
                items = data["items"]
                total = int(data["total"])
                for item in items:
                    workers.append(
                        RemoteWorker(
                            id_number=str(item["id_number"]).strip().upper(),
                            name=str(item["name"]).strip(),
                            phone=str(item.get("phone") or "").strip(),
                            job_code=str(item.get("job_code") or "").strip(),
                            job_name=str(item.get("job_name") or "").strip(),
                            on_site=bool(item["on_site"]),
                        )
                    )
            except (KeyError, TypeError, ValueError) as error:
                raise RealNameUnavailable(
                    "realname_malformed",
                    _("The real-name system sent an answer that cannot be read. Nothing was changed."),
                ) from error
            if not items or len(workers) >= total:
                return workers
            page += 1


def default_connector() -> RealNameConnector:
    return HttpRealNameConnector(
        settings.REALNAME_BASE_URL, settings.REALNAME_API_KEY, settings.REALNAME_TIMEOUT_SECONDS
    )
