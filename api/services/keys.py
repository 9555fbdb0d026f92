"""Bearer API keys: stored as SHA-256 hashes, each with a role and a set of kommune codes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.orm import ApiKey

__all__ = ["Principal", "Role", "authenticate", "create_key", "hash_key"]


class Role(StrEnum):
    COORDINATOR = "coordinator"  # children, proposals, reservations in own kommuner
    CONSULTANT = "consultant"  # families, institutions, capacity in own kommuner
    PLANNER = "planner"  # batches; child ids and KPIs, never names or addresses
    ADMIN = "admin"  # keys, audit


@dataclass(frozen=True)
class Principal:
    key_id: int
    role: Role
    kommuner: frozenset[str]

    def in_scope(self, kommune_code: str) -> bool:
        return kommune_code in self.kommuner


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, role: Role, kommuner: list[str], label: str = "") -> str:
    """A new key, returned once in clear text; only its hash is stored."""
    key = "pk_" + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            key_hash=hash_key(key),
            role=role.value,
            kommuner=";".join(sorted(set(kommuner))),
            label=label,
            created_at=datetime.now(UTC),
            revoked=False,
        )
    )
    session.flush()
    return key


def authenticate(session: Session, key: str) -> Principal | None:
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked:
        return None
    return Principal(row.id, Role(row.role), frozenset(k for k in row.kommuner.split(";") if k))
