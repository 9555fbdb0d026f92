"""A child's placements, and their lifecycle: imported ones and those confirmed through the
service can be ended (home, step_down, breakdown, age_out, moved, other) or moved to another
option. Both change the database rule "at most one active placement per child" only inside
one transaction, and both are audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.capacity import active_placements, free_placed, live_hold_of, occupy_held, reserve
from api.db.orm import ChildRow, InstitutionRow, PlacementRow
from api.services.caller import Principal, Role
from api.services.children import own_child
from api.services.errors import Conflict, Invalid, NotFound
from api.services.holds import child_has_hold, option_pool
from api.services.inputs import PlacementEnd, PlacementMove
from api.services.runtime import Service, now
from matcher.rank import UnknownChild
from models.capacity import pool_id
from models.enums import EndReason

__all__ = [
    "child_placements",
    "command_line_caller",
    "end_placement",
    "move_placement",
    "own_placement",
    "placement_rows",
    "read_placement",
]


def placement_rows(session: Session, child_id: str) -> list[PlacementRow]:
    return list(
        session.scalars(
            select(PlacementRow)
            .where(PlacementRow.child_id == child_id)
            .order_by(PlacementRow.start_date, PlacementRow.id)
        )
    )


def child_placements(
    session: Session, service: Service, who: Principal, child_id: str
) -> list[PlacementRow]:
    """The child's placements, oldest first (each with the hold it was confirmed from)."""
    own_child(session, who, child_id)
    service.audit_read(who, "placement.list", [child_id])
    return placement_rows(session, child_id)


def command_line_caller(session: Session) -> Principal:
    """The command line acts for every kommune in the database; its audit rows carry key id
    0, which no API key has."""
    kommuner = frozenset(session.scalars(select(ChildRow.kommune_code).distinct()))
    return Principal(0, Role.COORDINATOR, kommuner)


def own_placement(session: Session, who: Principal, placement_id: int) -> PlacementRow:
    """The placement, or NotFound alike for a missing id, a child outside the caller's
    kommuner and a child no longer in the kommune's files."""
    row = session.get(PlacementRow, placement_id)
    child = session.get(ChildRow, row.child_id) if row is not None else None
    if row is None or child is None or not who.in_scope(child.kommune_code):
        raise NotFound(f"no placement {placement_id} in your kommuner")
    return row


def read_placement(
    session: Session, service: Service, who: Principal, placement_id: int
) -> PlacementRow:
    row = own_placement(session, who, placement_id)
    service.audit_read(who, "placement.read", [row.child_id])
    return row


def _pool_of_placement(session: Session, row: PlacementRow) -> str:
    is_institution = session.get(InstitutionRow, row.option_id) is not None
    return pool_id(row.option_id, row.kind, {row.option_id} if is_institution else ())


def _day(value: date | None, start: date, field: str) -> date:
    day = value or now().date()
    if day > now().date():
        raise Invalid(
            f"{field} {day} is in the future",
            errors=[{"path": f"body.{field}", "value": str(day), "allowed": "today or earlier"}],
        )
    if day < start:
        raise Invalid(
            f"{field} {day} is before the placement started ({start})",
            errors=[{"path": f"body.{field}", "value": str(day), "allowed": f"{start} or later"}],
        )
    return day


def _end(session: Session, row: PlacementRow, day: date, reason: EndReason) -> None:
    row.status = "ended"
    row.end_date = day
    row.end_reason = reason.value
    free_placed(session, _pool_of_placement(session, row), 1)


def _active(row: PlacementRow) -> None:
    if row.status != "active":
        raise Conflict(
            f"placement {row.id} ended on {row.end_date} and cannot change",
            reason="NOT_ACTIVE",
        )


def end_placement(
    session: Session, service: Service, who: Principal, placement_id: int, body: PlacementEnd
) -> PlacementRow:
    """End an active placement; its place becomes free."""
    row = own_placement(session, who, placement_id)
    _active(row)
    _end(session, row, _day(body.end_date, row.start_date, "end_date"), body.end_reason)
    service.bump(session, "capacity", "structure")
    service.audit(
        session, who, "placement.end", row.child_id, f"{row.id} {row.option_id} {body.end_reason}"
    )
    return row


def move_placement(
    session: Session, service: Service, who: Principal, placement_id: int, body: PlacementMove
) -> tuple[list[PlacementRow], list[PlacementRow]]:
    """End the child's active placement (and its placed siblings') and start the new one at
    an eligible option with room, in one transaction: the ended placements and the new
    ones, one per child of the unit."""
    row = own_placement(session, who, placement_id)
    _active(row)
    if body.option_id == row.option_id and (body.kind is None or body.kind == row.kind):
        raise Invalid(
            f"the child already lives at {row.option_id}",
            errors=[
                {"path": "body.option_id", "value": body.option_id, "allowed": "another option"}
            ],
        )
    day = _day(body.start_date, row.start_date, "start_date")
    child = session.get(ChildRow, row.child_id)
    if child is None:  # own_placement has checked it
        raise NotFound(f"no placement {placement_id} in your kommuner")
    kind, pool = option_pool(session, body.option_id, body.kind, child)
    try:
        check = service.matcher(session).evaluate_option(
            row.child_id, body.option_id, kind, as_of=day
        )
    except UnknownChild:  # retired: kept for its placement history, no longer a case
        raise NotFound(f"no placement {placement_id} in your kommuner") from None
    other = live_hold_of(session, check.children)
    if other is not None:
        raise child_has_hold(other)
    leaving = active_placements(session, check.children)
    # The places the unit itself occupies do not count against a move within one home.
    if not check.eligible and check.reasons != ["NO_CAPACITY"]:
        raise Invalid(
            f"{body.option_id} ({kind}) is not an eligible option for this child",
            reasons=check.reasons,
        )
    for p in leaving:
        _end(session, p, day, EndReason(body.end_reason))
    session.flush()
    if not reserve(session, pool, len(check.children)):
        raise Conflict(f"no free place left at {body.option_id}", reason="NO_CAPACITY")
    occupy_held(session, pool, len(check.children))
    started = [
        PlacementRow(
            child_id=cid,
            option_id=body.option_id,
            kind=kind,
            start_date=day,
            status="active",
            end_reason="",
            reservation_id=None,
        )
        for cid in check.children
    ]
    session.add_all(started)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "one of the children was placed meanwhile", reason="ALREADY_PLACED"
        ) from None
    service.bump(session, "capacity", "structure")
    for p in started:
        service.audit(
            session,
            who,
            "placement.move",
            p.child_id,
            f"{placement_id} -> {p.id} {body.option_id} {body.end_reason}",
        )
    return leaving, started
