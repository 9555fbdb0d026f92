"""The step-down review and a child's placements, for coordinators."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.http.deps import ServiceDep, SessionDep, read_only, require
from api.http.schemas import PlacementPublic
from api.services import follow_ups, placements, review
from api.services.caller import Principal, Role
from api.services.follow_ups import FollowUpCreate

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


@router.get("/children/{child_id}/placements", response_model=list[PlacementPublic])
@read_only
def child_placements(
    child_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    """The child's placements, oldest first (placements.csv's fields, each with its id and
    the hold it was confirmed from)."""
    return placements.child_placements(session, service, who, child_id)


@router.post("/children/{child_id}/follow-ups", response_model=PlacementPublic)
def record_follow_up(
    child_id: str,
    body: FollowUpCreate,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
) -> Any:
    """Record a follow-up held on the child's active placement (`on_date`, today when left
    out; `with_whom`; `child_heard`; `note`): the placement's `last_follow_up` moves to it."""
    return follow_ups.record_follow_up(session, service, who, child_id, body)
