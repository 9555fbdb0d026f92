"""What is checked before a request's body is read: the API key of every request with a body
under /v1/, and the size of every body.

A pure ASGI middleware (not BaseHTTPMiddleware, which runs the app in a task group and
buffers), in front of everything but the access log and Starlette's error handler:

1. A declared `Content-Length` over the limit is answered 413 at once.
2. POST, PUT, PATCH and DELETE under /v1/ need `Authorization: Bearer <key>` with a key that
   is valid now: its row is read on every request (on SQLite from the event loop itself, a
   read that never waits under WAL; else in a worker thread), so a revoked key is refused
   by every worker at once. Without one the answer is 401 and the body is never read. The
   `Caller` dependency takes the principal from here.
3. The body is counted as it streams in (chunked or not); past the limit, reading stops and
   the answer is 413. The HTTP server discards whatever the client still sends, chunk by
   chunk, so memory stays flat.
4. With an `Idempotency-Key` header, the body's SHA-256 is computed as it streams in, for
   `answer_once` to tell a replay from a key reused with another body.

Pages under /ui sign in with a cookie, not a key: only the size limit applies to them, and
their refusals are Danish pages (the `page` hook), never JSON."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextvars import ContextVar

from fastapi import HTTPException
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.deps import BAD_KEY, NO_KEY, PRINCIPAL
from api.http.problems import problem
from api.services.caller import Principal
from api.services.runtime import Service

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_BODY_ENV",
    "BodyTooLarge",
    "RequestGuard",
    "body_sha256",
    "max_body_from_environment",
    "size_text",
]

MAX_BODY_ENV = "PLACEMENT_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/v1/"
PAGES = "/ui"

# The SHA-256 of the current request's body, fed while it streams in; set only when the
# request carries an Idempotency-Key (read by api.http.idempotent.answer_once).
_body_digest: ContextVar[hashlib._Hash | None] = ContextVar("placement_body_digest", default=None)


def body_sha256() -> str:
    """The hex SHA-256 of the current request's body as read so far (the whole body once the
    route runs), or "" outside a request with an Idempotency-Key."""
    digest = _body_digest.get()
    return digest.hexdigest() if digest is not None else ""


def max_body_from_environment() -> int:
    """$PLACEMENT_MAX_BODY_BYTES, or 1 MiB."""
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{MAX_BODY_ENV}: got {raw!r}; allowed: a whole number of bytes >= 0")
    return value


def size_text(n: int) -> str:
    """`n` bytes for a person: "1 MiB", "512 KiB", "1000 bytes"."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the limit. An HTTPException, which FastAPI
    passes on while it reads a body (any other error there becomes a 400), so the app's
    handler answers it (problem+json, or a Danish page under /ui)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than the limit of {limit} bytes ({size_text(limit)})"
        )
        self.limit = limit


def _is_page(path: str) -> bool:
    return path == PAGES or path.startswith(PAGES + "/")


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the HTTP server refuses a malformed length before we see it


class RequestGuard:
    """Authentication before the body and a limit on the body's size (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        page: Callable[[Request, int], Response] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.max_body_bytes
        declared = _declared_length(headers)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(limit))
            return
        path: str = scope["path"]
        if scope["method"] in BODY_METHODS and path.startswith(API_PREFIX):
            refusal = await self._authenticate(scope, headers)
            if refusal is not None:
                await self._refuse(scope, receive, send, refusal)
                return

        digest = hashlib.sha256() if "idempotency-key" in headers else None
        received = 0
        over = False  # the body passed the limit: the answer is the 413
        answered = False  # a response has started
        ours = False  # ... and it is the 413 of this guard

        async def limited() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                chunk: bytes = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    over = True  # and `receive` is never called again
                    raise BodyTooLarge(limit)
                if digest is not None:
                    digest.update(chunk)
            return message

        async def watched(message: Message) -> None:
            nonlocal answered, ours
            if message["type"] == "http.response.start" and not answered:
                answered = True
                if over and message["status"] != 413:
                    # The app's handler answers BodyTooLarge with a 413; should something in
                    # between have wrapped the error (a task group does), it would make a
                    # 400 of the cut-off body instead: the answer is the 413 all the same.
                    ours = True
                    await self._refuse(scope, receive, send, BodyTooLarge(limit))
                    return
            if not ours:
                await send(message)

        token = _body_digest.set(digest)
        try:
            await self.app(scope, limited, watched)
        except Exception:
            if not over or (answered and not ours):
                raise
            if not answered:  # the error passed every handler of the app
                await self._refuse(scope, receive, send, BodyTooLarge(limit))
        finally:
            _body_digest.reset(token)

    async def _authenticate(self, scope: Scope, headers: Headers) -> HTTPException | None:
        scheme, key = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not key:
            return HTTPException(401, NO_KEY)
        service: Service = scope["app"].state.service
        found = service.principal_inline(key)
        if found is False:
            found = await run_in_threadpool(service.principal, key)
        principal = found if isinstance(found, Principal) else None
        if principal is None:
            return HTTPException(401, BAD_KEY)
        # The route's `Caller` takes it from here instead of reading the key again (within
        # this request only: the next request reads the key anew, so revocation is at once).
        scope.setdefault("state", {})[PRINCIPAL] = principal
        return None

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: HTTPException
    ) -> None:
        """Answer without the app (and without reading the body): problem+json, or a Danish
        page under /ui."""
        response: Response
        if self.page is not None and _is_page(scope["path"]):
            response = await run_in_threadpool(self.page, Request(scope), error.status_code)
        else:
            response = problem(error.status_code, str(error.detail))
        await response(scope, receive, send)
