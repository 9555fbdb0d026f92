"""Idempotency-Key for mutating POSTs: the first response is stored and replayed."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.orm import IdempotentResponse
from api.security import Principal
from api.service import now

__all__ = ["remember", "replay"]


def replay(session: Session, who: Principal, key: str | None, route: str) -> JSONResponse | None:
    if not key:
        return None
    stored = session.get(IdempotentResponse, (key[:200], who.key_id, route))
    if stored is None:
        return None
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )


def remember(
    session: Session, who: Principal, key: str | None, route: str, status: int, body: Any
) -> None:
    if key:
        session.add(
            IdempotentResponse(
                key=key[:200],
                key_id=who.key_id,
                route=route,
                status_code=status,
                body=body,
                created_at=now(),
            )
        )
