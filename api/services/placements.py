"""A child's placements: those imported and those confirmed through the service."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.mappers import placement_from_row
from api.db.orm import PlacementRow
from api.services.caller import Principal
from api.services.children import own_child
from api.services.runtime import Service
from models.domain import Placement

__all__ = ["child_placements", "placement_rows"]


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
) -> list[tuple[Placement, str | None]]:
    """The child's placements, oldest first, each with the hold it was confirmed from."""
    own_child(session, who, child_id)
    service.audit_read(who, "placement.list", [child_id])
    return [(placement_from_row(r), r.reservation_id) for r in placement_rows(session, child_id)]
