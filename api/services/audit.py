"""The audit trail, for administrators, scoped by kommune like everything else.

A row about a child (`child_id` set) belongs to the kommune the child acts in now. A row
without a child (a key made or revoked, a batch job without a child in its answer) names the
kommuner it concerns at the start of its `detail`: `kommuner=101;147 key=12 role=coordinator`
(`scope_detail`), or `kommuner=*` for a national key. An admin of some kommuner reads the rows
of children in its kommuner and the child-less rows whose kommuner all lie within its own; a
national admin (an admin key without kommuner) reads every row, also those of children no
longer in the database and child-less rows that name no kommuner."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import AuditEntry, ChildRow
from api.services.caller import Principal, Role

__all__ = ["CLI_ROLE", "NATIONAL", "detail_kommuner", "is_national", "read_audit", "scope_detail"]

CLI_ROLE = "cli"  # the role of audit rows written on the command line (key_id None)
NATIONAL = "*"  # the kommuner of a child-less row about a national key
_PREFIX = "kommuner="
_SCOPE = re.compile(r"^kommuner=(\*|[0-9;]*)(?: |$)")
_PAGE = 1000


def is_national(who: Principal) -> bool:
    """A national admin: an admin key without kommuner (made only on the command line)."""
    return who.role is Role.ADMIN and not who.kommuner


def scope_detail(kommuner: Iterable[str], rest: str = "") -> str:
    """The detail of a child-less audit row: the kommuner it concerns first (`*` for none,
    i.e. national), then `rest`."""
    codes = ";".join(sorted({k for k in kommuner if k})) or NATIONAL
    return f"{_PREFIX}{codes} {rest}".rstrip()


def detail_kommuner(detail: str) -> frozenset[str] | None:
    """The kommuner a child-less row's detail names; None when it names none or is national."""
    match = _SCOPE.match(detail)
    if match is None or match.group(1) == NATIONAL:
        return None
    codes = frozenset(k for k in match.group(1).split(";") if k)
    return codes or None


def read_audit(
    session: Session, who: Principal, child_id: str | None = None, limit: int = 500
) -> list[AuditEntry]:
    """The newest audit rows the caller may read first, optionally of one child (none for a
    child outside the caller's kommuner, exactly as for an unknown child)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if child_id:
        query = query.where(AuditEntry.child_id == child_id)
    if is_national(who):
        return list(session.scalars(query))
    own = select(ChildRow.child_id).where(ChildRow.kommune_code.in_(sorted(who.kommuner)))
    rows = list(session.scalars(query.where(AuditEntry.child_id.in_(own))))
    if child_id:
        return rows
    # Child-less rows newer than the oldest row kept so far, filtered by the kommuner their
    # detail names; they are few (keys, batch jobs), read a page at a time.
    floor = rows[-1].id if len(rows) == limit else 0
    extra: list[AuditEntry] = []
    below: int | None = None
    while len(extra) < limit:
        page_query = (
            select(AuditEntry)
            .where(
                AuditEntry.child_id.is_(None),
                AuditEntry.id > floor,
                AuditEntry.detail.startswith(_PREFIX, autoescape=True),
            )
            .order_by(AuditEntry.id.desc())
            .limit(_PAGE)
        )
        if below is not None:
            page_query = page_query.where(AuditEntry.id < below)
        page = list(session.scalars(page_query))
        for row in page:
            codes = detail_kommuner(row.detail)
            if codes is not None and codes <= who.kommuner:
                extra.append(row)
        if len(page) < _PAGE:
            break
        below = page[-1].id
    return sorted(rows + extra, key=lambda row: row.id, reverse=True)[:limit]
