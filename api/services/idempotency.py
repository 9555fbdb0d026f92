"""Idempotency-Key for mutating POSTs: the first answer is stored and replayed.

Each stored answer keeps the SHA-256 of the request body it answered (`body_hash`). A repeated
request with the same key and the same body gets the stored answer again; the same key with a
different body is refused (`Invalid`, reason IDEMPOTENCY_KEY_REUSED) rather than answered
with the first request's result. The hash is over the body's bytes as sent: a retry resends
the same bytes, the hash needs neither a second parse nor the route's schema (so a new default
in a body model does not turn a retry across a deploy into a "different" body), and a client
that re-serialises differently is told so instead of getting a wrong replay. Answers stored
before body hashes were kept (`body_hash` "") replay as before."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.db.orm import IdempotentResponse
from api.services.caller import Principal
from api.services.errors import Invalid
from api.services.runtime import now

__all__ = ["KEY_REUSED", "StoredAnswer", "remember", "replay"]

KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: Any


def replay(
    session: Session, who: Principal, key: str | None, route: str, body_hash: str = ""
) -> StoredAnswer | None:
    """The answer first given to this caller's `key` on `route`, if any; `Invalid` when that
    answer was for another body (both hashes known and different)."""
    if not key:
        return None
    stored = session.get(IdempotentResponse, (key[:200], who.key_id, route))
    if stored is None:
        return None
    if stored.body_hash and body_hash and stored.body_hash != body_hash:
        raise Invalid(
            "this Idempotency-Key was first used with a different request body; "
            "use a new key for a new request",
            errors=[
                {
                    "path": "header.Idempotency-Key",
                    "value": key[:200],
                    "allowed": "a key not used before, or the first request's body unchanged",
                }
            ],
            reason=KEY_REUSED,
        )
    return StoredAnswer(stored.status_code, stored.body)


def remember(
    session: Session,
    who: Principal,
    key: str | None,
    route: str,
    status: int,
    body: Any,
    body_hash: str = "",
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
                body_hash=body_hash,
            )
        )
