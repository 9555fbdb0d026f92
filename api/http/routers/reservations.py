"""Holding a place for a child (or its sibling group) until it expires, confirming it as a
placement, releasing it. Two coordinators can never both get the last place."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ServiceDep, SessionDep, require
from api.errors import ApiError
from api.idempotency import remember, replay
from api.orm import ChildRow, FamilyRow, InstitutionRow, NetworkRow, Reservation
from api.routers.children import child_or_404
from api.schemas import ReservationCreate, ReservationPublic
from api.security import Principal, Role
from api.service import Service
from api.store import combination_pool

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]


def public(hold: Reservation) -> dict[str, Any]:
    return ReservationPublic(
        id=hold.id,
        child_ids=hold.child_ids.split(";"),
        sibling_group=hold.sibling_group,
        option_id=hold.option_id,
        kind=hold.kind,
        places=hold.places,
        status=hold.status,
        created_at=hold.created_at,
        expires_at=hold.expires_at,
    ).model_dump(mode="json")


def _pool_of(session: Session, option_id: str, kind: str | None) -> tuple[str, str]:
    """(kind, pool_id) of an option, the kind inferred when not given."""
    if session.get(FamilyRow, option_id) is not None:
        kind = kind or "foster"
        if kind not in ("foster", "combination"):
            raise ApiError(
                422,
                f"{option_id} is a foster family",
                errors=[{"path": "body.kind", "value": kind, "allowed": "foster or combination"}],
            )
        return kind, option_id
    if session.get(InstitutionRow, option_id) is not None:
        kind = kind or "institution"
        if kind not in ("institution", "combination"):
            raise ApiError(
                422,
                f"{option_id} is an institution",
                errors=[
                    {"path": "body.kind", "value": kind, "allowed": "institution or combination"}
                ],
            )
        return kind, option_id if kind == "institution" else combination_pool(option_id)
    if session.scalars(select(NetworkRow).where(NetworkRow.person_id == option_id)).first():
        if kind not in (None, "network"):
            raise ApiError(
                422,
                f"{option_id} is a network person",
                errors=[{"path": "body.kind", "value": kind, "allowed": "network"}],
            )
        return "network", option_id
    raise ApiError(404, f"no option {option_id!r}")


def _own(session: Session, who: Principal, reservation_id: str) -> Reservation:
    hold = session.get(Reservation, reservation_id)
    if hold is None or not who.in_scope(hold.kommune_code):
        raise ApiError(404, f"no reservation {reservation_id!r} in your kommuner")
    return hold


def create_hold(
    session: Session,
    service: Service,
    who: Principal,
    child_id: str | None,
    sibling_group: str | None,
    option_id: str,
    kind: str | None,
    hours: float,
) -> Reservation:
    """Hold an eligible option's places for a child (and its sibling group): 404 outside the
    caller's kommuner, 422 when not eligible, 409 when the last place went to someone else."""
    if not child_id and not sibling_group:
        raise ApiError(
            422,
            "name the child or the sibling group",
            errors=[
                {"path": "body.child_id", "value": None, "allowed": "a child_id or sibling_group"}
            ],
        )
    if child_id:
        first = child_or_404(session, who, child_id)
    else:
        first_row = session.scalars(
            select(ChildRow)
            .where(ChildRow.sibling_group == sibling_group)
            .order_by(ChildRow.child_id)
        ).first()
        if first_row is None or not who.in_scope(first_row.kommune_code):
            raise ApiError(404, f"no sibling group {sibling_group!r} in your kommuner")
        first = first_row
    kind, pool_id = _pool_of(session, option_id, kind)
    service.expire_holds(session)
    matcher = service.matcher(session)
    ranking = matcher.rank(first.child_id, top=None, why_not=True, as_of=date.today())
    if not any(p.option_id == option_id and p.kind == kind for p in ranking.proposals):
        reasons: list[str] = next(
            (
                r["reasons"]
                for r in ranking.excluded_options or []
                if r["option_id"] == option_id and r["kind"] == kind
            ),
            [],
        )
        if reasons == ["NO_CAPACITY"]:
            raise ApiError(409, f"no free place left at {option_id}", reason="NO_CAPACITY")
        raise ApiError(
            422, f"{option_id} ({kind}) is not an eligible option for this child", reasons=reasons
        )
    hold = service.hold(
        session,
        who,
        ranking.children,
        ranking.sibling_group,
        first.kommune_code,
        option_id,
        kind,
        pool_id,
        hours,
    )
    for cid in ranking.children:
        service.audit(session, who, "reservation.create", cid, f"{hold.id} {option_id}")
    return hold


@router.post("", status_code=201, response_model=ReservationPublic)
def create_reservation(
    body: ReservationCreate,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if (done := replay(session, who, idempotency_key, "POST /v1/reservations")) is not None:
        return done
    hold = create_hold(
        session,
        service,
        who,
        body.child_id,
        body.sibling_group,
        body.option_id,
        body.kind,
        body.hours,
    )
    out = public(hold)
    remember(session, who, idempotency_key, "POST /v1/reservations", 201, out)
    return JSONResponse(out, status_code=201)


@router.get("/{reservation_id}", response_model=ReservationPublic)
def read_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    service.expire_holds(session)
    hold = _own(session, who, reservation_id)
    session.refresh(hold)
    return public(hold)


@router.post("/{reservation_id}/confirm", response_model=ReservationPublic)
def confirm_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    hold = _own(session, who, reservation_id)
    service.confirm(session, hold)
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.confirm", cid, hold.id)
    return public(hold)


@router.delete("/{reservation_id}", response_model=ReservationPublic)
def release_reservation(
    reservation_id: str, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    hold = _own(session, who, reservation_id)
    service.release(session, hold)
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.release", cid, hold.id)
    return public(hold)
