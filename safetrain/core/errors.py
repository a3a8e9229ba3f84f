"""The one domain error type. Services raise it; one handler per interface maps it to HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused an action. `message` is shown to the user (Chinese by default)."""

    status_code = 400

    def __init__(self, code: str, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        if self.details:
            data["details"] = self.details
        return data


class PermissionDenied(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404
