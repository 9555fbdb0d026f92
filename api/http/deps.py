"""Typed dependencies: the service, a database session per request, the caller.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool,
and each such hop (a thread switch there and back) cost more than the work of these
dependencies, which is a few attribute reads. What blocks (the session's commit, a key read
from the database) still runs in the thread pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.http.problems import ApiError
from api.services.caller import Principal, Role
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


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark a route that only reads in its transaction (its audit goes through
    `Service.audit_read`): it gets a session without SQLite's write lock."""
    setattr(endpoint, READ_ONLY, True)
    return endpoint


async def get_session(request: Request, service: ServiceDep) -> AsyncIterator[Session]:
    """One transaction per request, committed after the route (rolled back on any error).

    Making a session does no I/O; a route that never uses it costs no round trip and no
    thread hop here. (Proposals take no session at all: they read the in-memory matcher.)"""
    endpoint = request.scope.get("endpoint")
    reading = getattr(endpoint, READ_ONLY, False)
    session = (service.read_sessions if reading else service.sessions)()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        # The route's thread has finished (a thread is not cancelled midway), so the session
        # is ours again; a rollback is quick and must happen even on cancellation.
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit runs when the route returns, before the response starts.
# FastAPI's default ("request") commits after the response is sent, so a client that read
# right after a 201 or a redirect (another connection, a browser) could miss the write, and
# a commit that failed would follow a success already sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Where api.http.limits leaves the caller it authenticated before the body was read.
PRINCIPAL = "principal"


async def get_principal(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    checked = getattr(request.state, PRINCIPAL, None)
    if isinstance(checked, Principal):
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, NO_KEY)
    principal = await run_in_threadpool(service.principal, credentials.credentials)
    if principal is None:
        raise ApiError(401, BAD_KEY)
    return principal


Caller = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = ", ".join(r.value for r in roles)

    async def check(principal: Caller) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403, f"this needs the role {allowed}; the key has {principal.role.value}"
            )
        return principal

    return check
