"""The capacity pools' rows changed by holds, each in one conditional statement, so that
concurrent requests and server processes never count a place twice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.engine import rows_changed
from api.db.orm import CapacityPool, LiveHold, PlacementRow, Reservation
from models.capacity import has_room

__all__ = [
    "active_placements",
    "end_hold",
    "free_placed",
    "live_hold_of",
    "lock_children",
    "occupy_held",
    "release_held",
    "reserve",
]


def reserve(session: Session, pool_id: str, places: int) -> bool:
    """Reserve `places` in the pool if they are free; False when another request took them."""
    taken = session.execute(
        update(CapacityPool)
        .where(
            CapacityPool.pool_id == pool_id,
            has_room(CapacityPool.places, CapacityPool.occupied, CapacityPool.reserved, places),
        )
        .values(reserved=CapacityPool.reserved + places)
    )
    return rows_changed(taken) == 1


def release_held(session: Session, pool_id: str, places: int) -> None:
    """Places a hold kept become free again."""
    session.execute(
        update(CapacityPool)
        .where(CapacityPool.pool_id == pool_id)
        .values(reserved=CapacityPool.reserved - places)
    )


def occupy_held(session: Session, pool_id: str, places: int) -> None:
    """Places a hold kept become occupied (the hold is confirmed)."""
    session.execute(
        update(CapacityPool)
        .where(CapacityPool.pool_id == pool_id)
        .values(
            reserved=CapacityPool.reserved - places,
            occupied=CapacityPool.occupied + places,
        )
    )


def free_placed(session: Session, pool_id: str, places: int) -> None:
    """Places of ended placements become free (never below zero: an imported `occupied` may
    have been corrected meanwhile)."""
    session.execute(
        update(CapacityPool)
        .where(CapacityPool.pool_id == pool_id, CapacityPool.occupied >= places)
        .values(occupied=CapacityPool.occupied - places)
    )


def end_hold(session: Session, hold_id: str, status: str) -> bool:
    """A live hold becomes `status` (confirmed, released, expired) and its children are free
    for another hold; False when another request ended it first, so that its places are
    handed on exactly once."""
    done = session.execute(
        update(Reservation)
        .where(Reservation.id == hold_id, Reservation.status == "held")
        .values(status=status)
    )
    if rows_changed(done) != 1:
        return False
    session.execute(delete(LiveHold).where(LiveHold.reservation_id == hold_id))
    return True


def live_hold_of(session: Session, child_ids: Iterable[str]) -> str | None:
    """The id of a live hold of one of these children, if any."""
    return session.scalars(
        select(LiveHold.reservation_id).where(LiveHold.child_id.in_(list(child_ids)))
    ).first()


def lock_children(session: Session, hold_id: str, child_ids: Iterable[str]) -> str | None:
    """Mark the children as held by `hold_id` (whose row must be flushed); the id of the
    live hold that has one of them already, or None when they are now ours. The primary key
    of `live_holds` decides between racing workers; the savepoint keeps a PostgreSQL
    transaction usable after the losing INSERT."""
    children = list(child_ids)
    other = live_hold_of(session, children)
    if other is not None:
        return other
    try:
        with session.begin_nested():
            session.add_all(LiveHold(child_id=c, reservation_id=hold_id) for c in children)
    except IntegrityError:
        return live_hold_of(session, children) or "(a hold made at the same moment)"
    return None


def active_placements(session: Session, child_ids: Iterable[str]) -> list[PlacementRow]:
    """The active placements of these children."""
    return list(
        session.scalars(
            select(PlacementRow)
            .where(PlacementRow.child_id.in_(list(child_ids)), PlacementRow.status == "active")
            .order_by(PlacementRow.id)
        )
    )
