"""The step-down review and a child's placements, for coordinators."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.http.deps import ServiceDep, SessionDep, read_only, require
from api.services import placements, review
from api.services.caller import Principal, Role

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
    return review.review_kommuner(session, service, who, kommune, as_of, top).as_dict()


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
    return review.review_child(session, service, who, child_id, as_of, top).as_dict()


@router.get("/children/{child_id}/placements")
@read_only
def child_placements(
    child_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    """The child's placements, oldest first (placements.csv's fields)."""
    return [
        {
            "child_id": p.child_id,
            "option_id": p.option_id,
            "kind": p.kind.value,
            "start_date": p.start_date.isoformat(),
            "status": p.status.value,
            "end_date": p.end_date.isoformat() if p.end_date else None,
            "end_reason": p.end_reason,
            "last_follow_up": p.last_follow_up.isoformat() if p.last_follow_up else None,
            "reservation_id": reservation_id,
        }
        for p, reservation_id in placements.child_placements(session, service, who, child_id)
    ]
