"""The capacity pools' rows changed by holds, each in one conditional statement, so that
concurrent requests and server processes never count a place twice."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.db.engine import rows_changed
from api.db.orm import CapacityPool, Reservation
from models.capacity import has_room

__all__ = ["end_hold", "occupy_held", "release_held", "reserve"]


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


def end_hold(session: Session, hold_id: str, status: str) -> bool:
    """A live hold becomes `status` (confirmed, released, expired); False when another
    request ended it first, so that its places are handed on exactly once."""
    done = session.execute(
        update(Reservation)
        .where(Reservation.id == hold_id, Reservation.status == "held")
        .values(status=status)
    )
    return rows_changed(done) == 1
