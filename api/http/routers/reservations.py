"""Holding a place for a child (or its sibling group), confirming it, releasing it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from api.http.deps import ServiceDep, SessionDep, require
from api.http.idempotent import answer_once
from api.http.presenters import reservation_public
from api.http.schemas import ReservationCreate, ReservationPublic
from api.services import holds
from api.services.caller import Principal, Role

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]


@router.post("", status_code=201, response_model=ReservationPublic)
def create_reservation(
    body: ReservationCreate,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    return answer_once(
        session,
        who,
        idempotency_key,
        "POST /v1/reservations",
        201,
        lambda: reservation_public(holds.create_hold(session, service, who, body)),
    )


@router.get("/{reservation_id}", response_model=ReservationPublic)
def read_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    return reservation_public(holds.read_hold(session, service, who, reservation_id))


@router.post("/{reservation_id}/confirm", response_model=ReservationPublic)
def confirm_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    return reservation_public(holds.confirm_hold(session, service, who, reservation_id))


@router.delete("/{reservation_id}", response_model=ReservationPublic)
def release_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    return reservation_public(holds.release_hold(session, service, who, reservation_id))
