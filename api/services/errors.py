"""Domain errors of the use cases. They carry what went wrong in the caller's terms and never
an HTTP status: the HTTP layer (api.http.problems) and the web pages (api.web) each translate
them once."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "DomainError", "Forbidden", "Invalid", "NotFound", "Unauthorized"]


class DomainError(Exception):
    """`detail` is an English sentence for API clients; `extra` holds machine-readable
    members (`reason`, `errors`, `reasons`, ids) that reach the problem+json body as they are."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def reason(self) -> str | None:
        reason = self.extra.get("reason")
        return str(reason) if reason is not None else None


class NotFound(DomainError):
    """No such record in the caller's kommuner (the same for one that exists elsewhere)."""


class Conflict(DomainError):
    """The request is valid but the state forbids it (`reason` says which rule)."""


class Invalid(DomainError):
    """The input breaks the contract; `errors` lists each field's path, value and what is
    allowed."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, **extra: Any):
        if errors is not None:
            extra["errors"] = errors
        super().__init__(detail, **extra)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.extra.get("errors", []))


class Forbidden(DomainError):
    """The caller's role or kommuner do not allow this."""


class Unauthorized(DomainError):
    """No valid key or sign-in."""
