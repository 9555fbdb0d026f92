"""A placement's lifecycle, for coordinators: read it, end it, move the child."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from api.http.deps import ServiceDep, SessionDep, read_only, require
from api.http.schemas import PlacementEnd, PlacementMove, PlacementMoved, PlacementPublic
from api.services import placements
from api.services.caller import Principal, Role

router = APIRouter(prefix="/v1/placements", tags=["placements"])
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]
# Ids are the database's integers: larger values are refused before they reach it.
PlacementId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The placement's id.")]


@router.get("/{placement_id}", response_model=PlacementPublic)
@read_only
def read_placement(
    placement_id: PlacementId, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    return placements.read_placement(session, service, who, placement_id)


@router.post("/{placement_id}/end", response_model=PlacementPublic)
def end_placement(
    placement_id: PlacementId,
    body: PlacementEnd,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
) -> Any:
    """End an active placement (`end_reason`: home, step_down, breakdown, age_out, moved,
    other); its place becomes free."""
    return placements.end_placement(session, service, who, placement_id, body)


@router.post("/{placement_id}/move", response_model=PlacementMoved)
def move_placement(
    placement_id: PlacementId,
    body: PlacementMove,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
) -> Any:
    """Move the child (with its sibling group) to another eligible option with room: the old
    placement ends and the new one starts in one transaction."""
    ended, started = placements.move_placement(session, service, who, placement_id, body)
    return {"ended": ended, "started": started}
