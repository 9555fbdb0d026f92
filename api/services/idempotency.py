"""Idempotency-Key for mutating POSTs: the first answer is stored and replayed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.db.orm import IdempotentResponse
from api.services.caller import Principal
from api.services.runtime import now

__all__ = ["StoredAnswer", "remember", "replay"]


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: Any


def replay(session: Session, who: Principal, key: str | None, route: str) -> StoredAnswer | None:
    """The answer first given to this caller's `key` on `route`, if any."""
    if not key:
        return None
    stored = session.get(IdempotentResponse, (key[:200], who.key_id, route))
    if stored is None:
        return None
    return StoredAnswer(stored.status_code, stored.body)


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
