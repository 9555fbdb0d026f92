"""The audit trail, for administrators."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import AuditEntry

__all__ = ["read_audit"]


def read_audit(session: Session, child_id: str | None = None, limit: int = 500) -> list[AuditEntry]:
    """The newest audit rows first, optionally of one child."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if child_id:
        query = query.where(AuditEntry.child_id == child_id)
    return list(session.scalars(query))
