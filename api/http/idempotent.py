"""A mutating POST answered once per Idempotency-Key: replays carry `Idempotent-Replayed`;
the same key with a different body is refused with 422 (reason IDEMPOTENCY_KEY_REUSED)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.db.engine import DbSession
from api.http.limits import body_sha256
from api.services import idempotency
from api.services.caller import Principal

__all__ = ["answer_once"]


def answer_once(
    session: DbSession,
    who: Principal,
    key: str | None,
    route: str,
    status: int,
    run: Callable[[], Any],
) -> JSONResponse:
    """`run()`'s JSON body with `status`, or the answer stored for `key` on `route`.

    The body's fingerprint is the SHA-256 of its bytes, which api.http.limits computes while
    the body streams in (only for requests with an Idempotency-Key), so the routes pass
    nothing for it."""
    body_hash = body_sha256() if key else ""
    stored = idempotency.replay(session, who, key, route, body_hash)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
        )
    body = run()
    idempotency.remember(session, who, key, route, status, body, body_hash)
    return JSONResponse(body, status_code=status)
