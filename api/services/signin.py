"""Web sign-in sessions: an HttpOnly, SameSite=Strict cookie holds a random token; the database
holds its hash, the API key it stands for, and the session's CSRF token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.db.orm import ApiKey, UiSession
from api.services.caller import Principal, Role
from api.services.keys import authenticate
from api.services.runtime import now

__all__ = ["SESSION_HOURS", "current", "sign_in", "sign_out"]

SESSION_HOURS = 8  # a working day; signing in again after that is cheap


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, api_key: str) -> tuple[str, Principal] | None:
    """A new session for a valid key: (cookie token, principal); None for a bad key."""
    principal = authenticate(session, api_key.strip())
    if principal is None:
        return None
    token = secrets.token_urlsafe(32)
    moment = now()
    session.execute(delete(UiSession).where(UiSession.expires_at < moment))
    session.add(
        UiSession(
            token_hash=_hash(token),
            key_id=principal.key_id,
            csrf=secrets.token_urlsafe(32),
            created_at=moment,
            expires_at=moment + timedelta(hours=SESSION_HOURS),
        )
    )
    return token, principal


def current(session: Session, token: str | None) -> tuple[Principal, UiSession] | None:
    """The signed-in caller of a cookie token, if the session and its key are still valid."""
    if not token:
        return None
    row = session.get(UiSession, _hash(token))
    if row is None or row.expires_at < now():
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.id == row.key_id)).first()
    if key is None or key.revoked:
        return None
    kommuner = frozenset(k for k in key.kommuner.split(";") if k)
    return Principal(key.id, Role(key.role), kommuner), row


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UiSession).where(UiSession.token_hash == _hash(token)))
