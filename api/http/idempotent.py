"""A mutating POST answered once per Idempotency-Key: replays carry `Idempotent-Replayed`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.db.engine import DbSession
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
    """`run()`'s JSON body with `status`, or the answer stored for `key` on `route`."""
    stored = idempotency.replay(session, who, key, route)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
        )
    body = run()
    idempotency.remember(session, who, key, route, status, body)
    return JSONResponse(body, status_code=status)
