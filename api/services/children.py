"""Children's records (with network, exclusions and keep-away addresses) and their proposals.

Coordinators only, inside their kommuner; every read or write of a child's record is audited.
A child outside the caller's kommuner is reported exactly as a missing one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.db.mappers import child_rows
from api.db.orm import (
    CapacityPool,
    ChildRow,
    ExclusionRow,
    FamilyRow,
    InstitutionRow,
    KeepAwayRow,
    NetworkRow,
    PlacementRow,
    Reservation,
)
from api.services.caller import Principal
from api.services.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.inputs import ChildCreate
from api.services.runtime import Service
from api.services.validation import issues_to_errors
from matcher.rank import Matcher, Ranking, UnknownChild
from models.dataset import parse_record
from models.domain import Child, Exclusion, KeepAway, NetworkPerson

__all__ = [
    "ChildCase",
    "StoredChild",
    "create_child",
    "list_children",
    "open_case",
    "open_record",
    "own_child",
    "proposals",
    "proposals_async",
    "read_child",
    "record_of",
    "search_children",
    "sibling_groups",
    "update_child",
]

T = TypeVar("T")


@dataclass(frozen=True)
class StoredChild:
    """A child's stored record with its network, exclusions and keep-away addresses."""

    child: ChildRow
    network: list[NetworkRow]
    exclusions: list[ExclusionRow]
    keep_away: list[KeepAwayRow]


def own_child(session: Session, who: Principal, child_id: str) -> ChildRow:
    """The child's row, or NotFound both for ids that do not exist and for children outside
    the caller's kommuner, so that existence is never revealed across kommuner."""
    row = session.get(ChildRow, child_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise NotFound(f"no child {child_id!r} in your kommuner")
    return row


def open_record(session: Session, service: Service, who: Principal, child_id: str) -> StoredChild:
    """The child's record for a page that may write in the same transaction (a form): the
    read is audited in that transaction, not through the read routes' group commit."""
    row = own_child(session, who, child_id)
    service.audit(session, who, "ui.child.read", child_id)
    return _record(session, row)


def record_of(session: Session, row: ChildRow) -> StoredChild:
    """The stored record of a child row the caller has already checked (and audited)."""
    return _record(session, row)


def _record(session: Session, row: ChildRow) -> StoredChild:
    cid = row.child_id
    return StoredChild(
        child=row,
        network=list(
            session.scalars(
                select(NetworkRow)
                .where(NetworkRow.child_id == cid)
                .order_by(NetworkRow.position, NetworkRow.person_id)
            )
        ),
        exclusions=list(
            session.scalars(
                select(ExclusionRow).where(ExclusionRow.child_id == cid).order_by(ExclusionRow.id)
            )
        ),
        keep_away=list(
            session.scalars(
                select(KeepAwayRow).where(KeepAwayRow.child_id == cid).order_by(KeepAwayRow.id)
            )
        ),
    )


def _parse_items(
    service: Service,
    key: str,
    items: Sequence[BaseModel],
    child_id: str,
    errors: list[dict[str, Any]],
    kind: type[T],
) -> list[T]:
    """Each nested item of a child (network person, exclusion, keep-away) checked by the
    dataset parser for `key`; problems are added to `errors` under `body.<key>[n]`."""
    records: list[T] = []
    for n, item in enumerate(items):
        record, issues = parse_record(
            key, item.model_dump() | {"child_id": child_id}, service.gazetteer
        )
        errors += issues_to_errors(issues, f"body.{key}[{n}]")
        if isinstance(record, kind):
            records.append(record)
    return records


def _validated(
    service: Service, session: Session, who: Principal, body: ChildCreate
) -> tuple[Child, list[NetworkPerson], list[Exclusion], list[KeepAway]]:
    """The body checked by the dataset's own parsers, plus the cross-references."""
    if not who.in_scope(body.kommune_code):
        raise Forbidden(f"kommune {body.kommune_code} is outside your kommuner")
    values = body.model_dump(exclude={"network", "exclusions", "keep_away"})
    child, issues = parse_record("children", values, service.gazetteer)
    errors = issues_to_errors(issues)
    persons = _parse_items(service, "network", body.network, body.child_id, errors, NetworkPerson)
    exclusions = _parse_items(
        service, "exclusions", body.exclusions, body.child_id, errors, Exclusion
    )
    keeps = _parse_items(service, "keep_away", body.keep_away, body.child_id, errors, KeepAway)
    own = {p.person_id for p in body.network}
    for n, p in enumerate(body.network):
        if p.via is not None and (p.via not in own or p.via == p.person_id):
            errors.append(
                {
                    "path": f"body.network[{n}].via",
                    "value": p.via,
                    "allowed": "another person_id in this child's network",
                }
            )
    options = set(session.scalars(select(FamilyRow.family_id))) | set(
        session.scalars(select(InstitutionRow.institution_id))
    )
    for n, w in enumerate(body.wishes):
        if w not in options | own:
            errors.append(
                {
                    "path": f"body.wishes[{n}]",
                    "value": w,
                    "allowed": "ids of families, institutions or this child's network",
                }
            )
    for n, e in enumerate(body.exclusions):
        if e.option_id not in options | own:
            errors.append(
                {
                    "path": f"body.exclusions[{n}].option_id",
                    "value": e.option_id,
                    "allowed": "an id of a family, institution or network person",
                }
            )
    for n, p in enumerate(body.network):
        errors += _person_errors(session, who, n, p.person_id, p.places)
    if errors or not isinstance(child, Child):
        raise Invalid("the child record is not valid", errors=errors)
    return child, persons, exclusions, keeps


def _person_errors(
    session: Session, who: Principal, n: int, person_id: str, places: int
) -> list[dict[str, Any]]:
    """A network person already recorded keeps its places. A person in the networks of
    children outside the caller's kommuner only is refused without a word of its record (not
    its places), as the id of an option is: ids are shared by all kommuner, so an id in use
    cannot be taken, but nothing of another kommune's record is shown."""
    pool = session.get(CapacityPool, person_id)
    if pool is None:
        return []
    path = f"body.network[{n}]"
    if pool.kind != "network":
        return [
            {
                "path": f"{path}.places",
                "value": places,
                "allowed": "a person_id not used by an option",
            }
        ]
    kommuner = set(
        session.scalars(
            select(ChildRow.kommune_code)
            .join(NetworkRow, NetworkRow.child_id == ChildRow.child_id)
            .where(NetworkRow.person_id == person_id)
            .distinct()
        )
    )
    if kommuner and not kommuner & who.kommuner:
        return [
            {
                "path": f"{path}.person_id",
                "value": person_id,
                "allowed": "a person_id not in use outside your kommuner",
            }
        ]
    if pool.places != places:
        return [
            {
                "path": f"{path}.places",
                "value": places,
                "allowed": f"the person's places as recorded ({pool.places})",
            }
        ]
    return []


def _store(
    service: Service,
    session: Session,
    child: Child,
    persons: list[NetworkPerson],
    exclusions: list[Exclusion],
    keeps: list[KeepAway],
    position: int,
) -> None:
    session.add_all(child_rows(child, tuple(persons), exclusions, keeps, position))
    for p in persons:
        if session.get(CapacityPool, p.person_id) is None:
            session.add(
                CapacityPool(
                    pool_id=p.person_id, kind="network", places=p.places, occupied=0, reserved=0
                )
            )
    service.bump(session, "structure")


def create_child(
    session: Session, service: Service, who: Principal, body: ChildCreate
) -> StoredChild:
    if session.get(ChildRow, body.child_id) is not None:
        raise Conflict(f"child {body.child_id!r} exists already")
    child, persons, exclusions, keeps = _validated(service, session, who, body)
    position = session.scalar(select(func.count()).select_from(ChildRow)) or 0
    _store(service, session, child, persons, exclusions, keeps, position)
    session.flush()
    service.audit(session, who, "child.create", child.child_id)
    return _record(session, session.get_one(ChildRow, child.child_id))


def list_children(
    session: Session, service: Service, who: Principal, kommune: str | None = None
) -> list[StoredChild]:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(ChildRow)
        .where(ChildRow.kommune_code.in_(sorted(codes)), ChildRow.retired_on.is_(None))
        .order_by(ChildRow.position, ChildRow.child_id)
    ).all()
    service.audit_read(who, "child.list", [row.child_id for row in rows])
    return [_record(session, row) for row in rows]


def read_child(session: Session, service: Service, who: Principal, child_id: str) -> StoredChild:
    row = own_child(session, who, child_id)
    service.audit_read(who, "child.read", [child_id])
    return _record(session, row)


def update_child(
    session: Session, service: Service, who: Principal, child_id: str, body: ChildCreate
) -> StoredChild:
    row = own_child(session, who, child_id)
    if body.child_id != child_id:
        raise Invalid(
            "child_id in the body must match the path",
            errors=[{"path": "body.child_id", "value": body.child_id, "allowed": child_id}],
        )
    child, persons, exclusions, keeps = _validated(service, session, who, body)
    position = row.position
    for table in (KeepAwayRow, ExclusionRow, NetworkRow):
        session.execute(delete(table).where(table.child_id == child_id))
    session.delete(row)
    session.flush()
    _store(service, session, child, persons, exclusions, keeps, position)
    session.flush()
    service.audit(session, who, "child.update", child_id)
    return _record(session, session.get_one(ChildRow, child_id))


def proposals(
    service: Service,
    who: Principal,
    child_id: str,
    *,
    top: int | None = 10,
    why_not: bool = False,
    as_of: date | None = None,
) -> Ranking:
    """The ranking of `placement rank` for this child (or its sibling group), audited.

    Holds past their expiry are freed by the service's reaper (and by every writing use
    case), not here: a proposal read takes no write lock. The child's kommune is checked on
    the matcher's copy of the stored children (as current as the data versions), not on a row
    loaded per request; a child it does not hold (retired) is missing, as for `rank`.

    It takes no session: it reads the in-memory matcher and writes its audit row through
    the audit log, and a session dependency cost an HTTP request about a millisecond."""
    _check_proposed(service.matcher(), who, child_id)
    service.audit_read(who, "child.proposals", [child_id])
    try:
        return service.rank(child_id, top=top, why_not=why_not, as_of=as_of or date.today())
    except UnknownChild:
        raise _no_proposals(child_id) from None


def _check_proposed(matcher: Matcher, who: Principal, child_id: str) -> None:
    """NotFound unless the matcher holds the child in one of the caller's kommuner."""
    child = matcher.dataset.child_by_id.get(child_id)
    if child is None or not who.in_scope(child.kommune_code):
        raise _no_proposals(child_id)


def _no_proposals(child_id: str) -> NotFound:
    # The same answer for a child missing and one outside the caller's kommuner.
    return NotFound(f"no child {child_id!r} in your kommuner")


async def proposals_async(
    service: Service,
    who: Principal,
    child_id: str,
    *,
    top: int | None = 10,
    why_not: bool = False,
    as_of: date | None = None,
) -> Ranking:
    """`proposals` for a caller on the event loop, the same answer and the same audit row.

    When the matcher is current (its counters read on the loop's own connection), no why-not
    list is asked and the ranking is kept (`Service.kept_ranking`), all of it runs on the
    loop, in microseconds besides the audit row, which never blocks the loop
    (`audit_read_async`): a worker thread would add two thread switches and a wait for the
    interpreter lock behind every other request's thread. A ranking to be made goes to a
    worker thread, and so does the whole request for a stale matcher (a rebuild takes
    seconds) or a why-not list. The threads are asyncio's default pool (six on two cores),
    not the 40 of FastAPI's for sync routes: rankings are CPU work under one interpreter
    lock, which more threads would only share more ways."""
    current = None if why_not else service.current_now()
    if current is None:
        return await asyncio.to_thread(
            proposals, service, who, child_id, top=top, why_not=why_not, as_of=as_of
        )
    _check_proposed(current.matcher, who, child_id)
    await service.audit_read_async(who, "child.proposals", [child_id])
    day = as_of or date.today()
    kept = service.kept_ranking(current, child_id, top=top, as_of=day)
    if kept is not None:
        return kept
    try:
        # A fresh ranking (milliseconds) in a worker thread: on the loop it would lengthen
        # every turn of the loop by that much, and a loop that turns slowly accepts new
        # connections slowly (a cold server under 32 new connections: the last accepted
        # after seconds).
        return await asyncio.to_thread(
            service.rank, child_id, top=top, why_not=False, as_of=day, current=current
        )
    except UnknownChild:
        raise _no_proposals(child_id) from None


@dataclass(frozen=True)
class ChildCase:
    """What a coordinator's case page shows: the record, the child as the matcher knows it,
    its full ranking with why-not, and its live or confirmed holds."""

    row: ChildRow
    child: Child
    ranking: Ranking
    holds: list[Reservation]


def sibling_groups(session: Session, who: Principal) -> list[str]:
    """The sibling groups in use among the caller's current children, for a case form."""
    rows = session.scalars(
        select(ChildRow.sibling_group).where(
            ChildRow.kommune_code.in_(sorted(who.kommuner)),
            ChildRow.sibling_group.is_not(None),
            ChildRow.retired_on.is_(None),
        )
    )
    return sorted({g for g in rows if g})


def search_children(
    session: Session,
    service: Service,
    who: Principal,
    text: str = "",
    acute: bool = False,
    sibling: bool = False,
    level: int | None = None,
) -> tuple[list[ChildRow], set[str]]:
    """Children in the caller's kommuner matching the filters, and which of them are placed;
    each child listed is audited."""
    query = select(ChildRow).where(
        ChildRow.kommune_code.in_(sorted(who.kommuner)), ChildRow.retired_on.is_(None)
    )
    if text:
        query = query.where(ChildRow.child_id.contains(text.strip()))
    if acute:
        query = query.where(ChildRow.acute.is_(True))
    if sibling:
        query = query.where(ChildRow.sibling_group.is_not(None))
    if level is not None:
        query = query.where(ChildRow.support_level == level)
    rows = list(session.scalars(query.order_by(ChildRow.position, ChildRow.child_id)))
    placed = set(
        session.scalars(
            select(PlacementRow.child_id).where(
                PlacementRow.status == "active",
                PlacementRow.child_id.in_([r.child_id for r in rows]),
            )
        )
    )
    for row in rows:
        service.audit(session, who, "ui.child.list", row.child_id)
    return rows, placed


def open_case(session: Session, service: Service, who: Principal, child_id: str) -> ChildCase:
    """The child's case with every option ranked (audited as a read and a proposal)."""
    row = own_child(session, who, child_id)
    service.audit(session, who, "ui.child.read", child_id)
    service.audit(session, who, "ui.proposals", child_id)
    service.expire_holds(session)
    matcher = service.matcher(session)
    ranking = matcher.rank(child_id, top=None, why_not=True, as_of=date.today())
    holds = [
        h
        for h in session.scalars(
            select(Reservation)
            .where(
                Reservation.child_ids.contains(child_id),
                Reservation.status.in_(["held", "confirmed"]),
            )
            .order_by(Reservation.created_at.desc())
        )
        if child_id in h.child_ids.split(";")
    ]
    return ChildCase(row, matcher.dataset.child_by_id[child_id], ranking, holds)
