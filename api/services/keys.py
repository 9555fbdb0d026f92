"""Bearer API keys: stored as SHA-256 hashes, each with a role and a set of kommune codes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import ApiKey
from api.services.caller import Principal, Role

__all__ = ["authenticate", "create_key", "hash_key", "list_keys", "mint_key"]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_key(
    session: Session, role: Role, kommuner: list[str], label: str = ""
) -> tuple[ApiKey, str]:
    """A new key's row and its clear text, shown once; only its hash is stored."""
    key = "pk_" + secrets.token_urlsafe(32)
    row = ApiKey(
        key_hash=hash_key(key),
        role=role.value,
        kommuner=";".join(sorted(set(kommuner))),
        label=label,
        created_at=datetime.now(UTC),
        revoked=False,
    )
    session.add(row)
    session.flush()
    return row, key


def create_key(session: Session, role: Role, kommuner: list[str], label: str = "") -> str:
    """A new key in clear text (for the demo, tests and benchmarks that need only the text)."""
    return mint_key(session, role, kommuner, label)[1]


def authenticate(session: Session, key: str) -> Principal | None:
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked:
        return None
    return Principal(row.id, Role(row.role), frozenset(k for k in row.kommuner.split(";") if k))


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
