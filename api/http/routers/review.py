"""The step-down review for coordinators: each active placement's follow-ups and, past its
review threshold, the less intrusive options (per child or per kommune). Every child read is
audited, as for the child's record."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from api.deps import ServiceDep, SessionDep, read_only, require
from api.errors import ApiError
from api.orm import PlacementRow
from api.routers.children import child_or_404
from api.security import Principal, Role
from api.service import now
from matcher.review import review, review_placement

router = APIRouter(prefix="/v1", tags=["review"])
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]
AsOf = Annotated[date | None, Query(description="Review date (YYYY-MM-DD); today when left out.")]
Top = Annotated[int, Query(ge=0, le=50, description="Step-down proposals per placement.")]


@router.get("/review")
@read_only
def review_kommuner(
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    kommune: Annotated[list[str] | None, Query(max_length=3)] = None,
    as_of: AsOf = None,
    top: Top = 5,
) -> Any:
    """Every active placement of children acting in the caller's kommuner (or the named ones
    among them), with a summary."""
    asked = set(kommune or ())
    outside = sorted(asked - who.kommuner)
    if outside:
        raise ApiError(
            403,
            f"kommune {outside[0]} is outside your kommuner ({', '.join(sorted(who.kommuner))})",
        )
    codes = asked or set(who.kommuner)
    payload = review(service.matcher(session), as_of or now().date(), codes, top=top)
    service.audit_read(who, "review.read", [row["child_id"] for row in payload["placements"]])
    return payload


@router.get("/children/{child_id}/review")
@read_only
def review_child(
    child_id: str,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    as_of: AsOf = None,
    top: Top = 5,
) -> Any:
    """One child's active placement under review."""
    child_or_404(session, who, child_id)
    service.audit_read(who, "review.read", [child_id])
    matcher = service.matcher(session)
    placement = matcher.dataset.active_placement.get(child_id)
    if placement is None:
        raise ApiError(
            404,
            f"child {child_id!r} has no active placement to review",
            reason="NO_ACTIVE_PLACEMENT",
        )
    return review_placement(matcher, placement, as_of or now().date(), top)


@router.get("/children/{child_id}/placements")
@read_only
def child_placements(
    child_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    """The child's placements, oldest first (placements.csv's fields)."""
    child_or_404(session, who, child_id)
    service.audit_read(who, "placement.list", [child_id])
    rows = session.scalars(
        select(PlacementRow)
        .where(PlacementRow.child_id == child_id)
        .order_by(PlacementRow.start_date, PlacementRow.id)
    )
    return [
        {
            "child_id": r.child_id,
            "option_id": r.option_id,
            "kind": r.kind,
            "start_date": r.start_date.isoformat(),
            "status": r.status,
            "end_date": r.end_date.isoformat() if r.end_date else None,
            "end_reason": r.end_reason,
            "last_follow_up": r.last_follow_up.isoformat() if r.last_follow_up else None,
            "reservation_id": r.reservation_id,
        }
        for r in rows
    ]
