"""Typed dependencies: the service, a database session per request, the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.db.engine import session_scope
from api.http.problems import ApiError
from api.services.caller import Principal, Role
from api.services.keys import authenticate
from api.services.runtime import Service

__all__ = [
    "BAD_KEY",
    "NO_KEY",
    "PRINCIPAL",
    "Caller",
    "ServiceDep",
    "SessionDep",
    "read_only",
    "require",
]

_bearer = HTTPBearer(auto_error=False)
READ_ONLY = "placement_read_only"
# The two 401s, the same whether api.http.limits refuses before the body or `Caller` after.
NO_KEY = "an API key is required: Authorization: Bearer <key>"
BAD_KEY = "the API key is not valid"


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark a route that only reads in its transaction (its audit goes through
    `Service.audit_read`): it gets a session without SQLite's write lock."""
    setattr(endpoint, READ_ONLY, True)
    return endpoint


def get_session(request: Request, service: ServiceDep) -> Iterator[Session]:
    endpoint = request.scope.get("endpoint")
    reading = getattr(endpoint, READ_ONLY, False)
    with session_scope(service.read_sessions if reading else service.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# Where api.http.limits leaves the caller it authenticated before the body was read.
PRINCIPAL = "principal"


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    checked = getattr(request.state, PRINCIPAL, None)
    if isinstance(checked, Principal):
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, NO_KEY)
    principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise ApiError(401, BAD_KEY)
    return principal


Caller = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = ", ".join(r.value for r in roles)

    def check(principal: Caller) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403, f"this needs the role {allowed}; the key has {principal.role.value}"
            )
        return principal

    return check
