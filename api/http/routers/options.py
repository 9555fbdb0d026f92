"""Foster families and institutions, their capacity, and the capacity overview.

Consultants keep approvals, places and vacancies current in their own kommuner; the
overview (`GET /v1/capacity`) holds no personal data and is open to every role but admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.deps import ServiceDep, SessionDep, require
from api.errors import ApiError, issues_to_errors
from api.idempotency import remember, replay
from api.orm import CapacityPool, FamilyRow, InstitutionRow, NetworkRow
from api.schemas import (
    CapacityPatch,
    FamilyCreate,
    FamilyPublic,
    InstitutionCreate,
    InstitutionPublic,
)
from api.security import Principal, Role
from api.service import Service
from api.store import combination_pool, family_rows, institution_rows
from models.dataset import parse_record

router = APIRouter(prefix="/v1", tags=["capacity"])
Consultant = Annotated[Principal, Depends(require(Role.CONSULTANT))]
Overview = Annotated[Principal, Depends(require(Role.CONSULTANT, Role.COORDINATOR, Role.PLANNER))]


def _split(text: str) -> list[str]:
    return [v for v in text.split(";") if v]


def vacancy_is_stale(confirmed: date | None, stale_before: date) -> bool:
    """A vacancy never confirmed, or confirmed before `stale_before` (today - stale_days)."""
    return confirmed is None or confirmed < stale_before


def _free(pool: CapacityPool) -> int:
    return max(pool.places - pool.occupied - pool.reserved, 0)


def family_public(session: Session, row: FamilyRow) -> dict[str, Any]:
    pool = session.get_one(CapacityPool, row.family_id)
    data = {
        c.name: getattr(row, c.name)
        for c in FamilyRow.__table__.columns
        if c.name not in ("position", "paused")
    }
    data |= {
        "target_groups": _split(row.target_groups),
        "places": pool.places,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "free_places": _free(pool),
        "status": "paused" if row.paused else "active",
    }
    return FamilyPublic.model_validate(data).model_dump(mode="json")


def institution_public(session: Session, row: InstitutionRow) -> dict[str, Any]:
    pool = session.get_one(CapacityPool, row.institution_id)
    comb = session.get_one(CapacityPool, combination_pool(row.institution_id))
    data = {
        c.name: getattr(row, c.name)
        for c in InstitutionRow.__table__.columns
        if c.name != "position"
    }
    data |= {
        "target_groups": _split(row.target_groups),
        "places": pool.places,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "free_places": _free(pool),
        "combination_places": comb.places,
        "combination_occupied": comb.occupied,
        "combination_reserved": comb.reserved,
    }
    return InstitutionPublic.model_validate(data).model_dump(mode="json")


def _check(
    service: Service, who: Principal, key: str, body: FamilyCreate | InstitutionCreate
) -> Any:
    if not who.in_scope(body.kommune_code):
        raise ApiError(403, f"kommune {body.kommune_code} is outside your kommuner")
    record, issues = parse_record(key, body.model_dump(), service.gazetteer)
    if issues or record is None:
        raise ApiError(422, f"the {key[:-1]} record is not valid", errors=issues_to_errors(issues))
    return record


def _id_in_use(session: Session, option_id: str) -> bool:
    return (
        session.get(FamilyRow, option_id) is not None
        or session.get(InstitutionRow, option_id) is not None
        or session.scalars(select(NetworkRow).where(NetworkRow.person_id == option_id)).first()
        is not None
    )


def _own(
    session: Session, who: Principal, model: type[FamilyRow] | type[InstitutionRow], option_id: str
) -> Any:
    row: Any = session.get(model, option_id)
    if row is None or not who.in_scope(row.kommune_code):
        what = "family" if model is FamilyRow else "institution"
        raise ApiError(404, f"no {what} {option_id!r} in your kommuner")
    return row


def _create(
    session: Session,
    who: Principal,
    service: Service,
    key: str,
    body: FamilyCreate | InstitutionCreate,
    option_id: str,
    idempotency_key: str | None,
    model: type[FamilyRow] | type[InstitutionRow],
    rows: Callable[[Any, int], list[object]],
    public: Callable[[Session, Any], dict[str, Any]],
) -> Any:
    """Create a family or an institution with its capacity pools (idempotent by key)."""
    route = f"POST /v1/{key}"
    if (done := replay(session, who, idempotency_key, route)) is not None:
        return done
    record = _check(service, who, key, body)
    if _id_in_use(session, option_id):
        raise ApiError(409, f"id {option_id!r} is in use already")
    position = session.scalar(select(func.count()).select_from(model)) or 0
    session.add_all(rows(record, position))
    service.bump(session, "structure", "capacity")
    session.flush()
    out = public(session, session.get_one(model, option_id))
    remember(session, who, idempotency_key, route, 201, out)
    return JSONResponse(out, status_code=201)


# ---------------------------------------------------------------------------- families


@router.post("/families", status_code=201, response_model=FamilyPublic, tags=["families"])
def create_family(
    body: FamilyCreate,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    return _create(
        session,
        who,
        service,
        "families",
        body,
        body.family_id,
        idempotency_key,
        FamilyRow,
        family_rows,
        family_public,
    )


@router.get("/families", response_model=list[FamilyPublic], tags=["families"])
def list_families(
    who: Consultant, session: SessionDep, kommune: Annotated[str | None, Query(max_length=3)] = None
) -> Any:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(FamilyRow)
        .where(FamilyRow.kommune_code.in_(sorted(codes)))
        .order_by(FamilyRow.position, FamilyRow.family_id)
    )
    return [family_public(session, r) for r in rows]


@router.get("/families/{family_id}", response_model=FamilyPublic, tags=["families"])
def read_family(family_id: str, who: Consultant, session: SessionDep) -> Any:
    return family_public(session, _own(session, who, FamilyRow, family_id))


@router.put("/families/{family_id}", response_model=FamilyPublic, tags=["families"])
def update_family(
    family_id: str, body: FamilyCreate, who: Consultant, session: SessionDep, service: ServiceDep
) -> Any:
    row = _own(session, who, FamilyRow, family_id)
    if body.family_id != family_id:
        raise ApiError(
            422,
            "family_id in the body must match the path",
            errors=[{"path": "body.family_id", "value": body.family_id, "allowed": family_id}],
        )
    family = _check(service, who, "families", body)
    pool = session.get_one(CapacityPool, family_id)
    if family.occupied + pool.reserved > family.places:
        raise ApiError(
            409,
            f"{pool.reserved} place(s) are held: places must be at least occupied + held",
            reason="HELD_PLACES",
        )
    position = row.position
    session.delete(row)
    session.execute(delete(CapacityPool).where(CapacityPool.pool_id == family_id))
    session.flush()
    rows = family_rows(family, position)
    rows[1].reserved = pool.reserved  # type: ignore[attr-defined]
    session.add_all(rows)
    service.bump(session, "structure", "capacity")
    session.flush()
    return family_public(session, session.get_one(FamilyRow, family_id))


# ------------------------------------------------------------------------ institutions


@router.post(
    "/institutions", status_code=201, response_model=InstitutionPublic, tags=["institutions"]
)
def create_institution(
    body: InstitutionCreate,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    return _create(
        session,
        who,
        service,
        "institutions",
        body,
        body.institution_id,
        idempotency_key,
        InstitutionRow,
        institution_rows,
        institution_public,
    )


@router.get("/institutions", response_model=list[InstitutionPublic], tags=["institutions"])
def list_institutions(
    who: Consultant, session: SessionDep, kommune: Annotated[str | None, Query(max_length=3)] = None
) -> Any:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(InstitutionRow)
        .where(InstitutionRow.kommune_code.in_(sorted(codes)))
        .order_by(InstitutionRow.position, InstitutionRow.institution_id)
    )
    return [institution_public(session, r) for r in rows]


@router.get(
    "/institutions/{institution_id}", response_model=InstitutionPublic, tags=["institutions"]
)
def read_institution(institution_id: str, who: Consultant, session: SessionDep) -> Any:
    return institution_public(session, _own(session, who, InstitutionRow, institution_id))


@router.put(
    "/institutions/{institution_id}", response_model=InstitutionPublic, tags=["institutions"]
)
def update_institution(
    institution_id: str,
    body: InstitutionCreate,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
) -> Any:
    row = _own(session, who, InstitutionRow, institution_id)
    if body.institution_id != institution_id:
        raise ApiError(
            422,
            "institution_id in the body must match the path",
            errors=[
                {
                    "path": "body.institution_id",
                    "value": body.institution_id,
                    "allowed": institution_id,
                }
            ],
        )
    inst = _check(service, who, "institutions", body)
    pools = {
        p: session.get_one(CapacityPool, p)
        for p in (institution_id, combination_pool(institution_id))
    }
    if inst.occupied + pools[institution_id].reserved > inst.places or (
        inst.combination_occupied + pools[combination_pool(institution_id)].reserved
        > inst.combination_places
    ):
        raise ApiError(409, "places must be at least occupied + held", reason="HELD_PLACES")
    position = row.position
    session.delete(row)
    session.execute(delete(CapacityPool).where(CapacityPool.pool_id.in_(list(pools))))
    session.flush()
    rows = institution_rows(inst, position)
    rows[1].reserved = pools[institution_id].reserved  # type: ignore[attr-defined]
    rows[2].reserved = pools[combination_pool(institution_id)].reserved  # type: ignore[attr-defined]
    session.add_all(rows)
    service.bump(session, "structure", "capacity")
    session.flush()
    return institution_public(session, session.get_one(InstitutionRow, institution_id))


# ----------------------------------------------------------------------------- capacity


def _patch_pool(pool: CapacityPool, places: int | None, occupied: int | None, path: str) -> None:
    new_places = pool.places if places is None else places
    new_occupied = pool.occupied if occupied is None else occupied
    if new_occupied + pool.reserved > new_places:
        raise ApiError(
            422,
            "occupied plus held places cannot exceed places",
            errors=[
                {
                    "path": f"body.{path}",
                    "value": new_occupied,
                    "allowed": f"at most places - held ({new_places} - {pool.reserved})",
                }
            ],
        )
    pool.places, pool.occupied = new_places, new_occupied


def patch_capacity(
    session: Session,
    service: Service,
    who: Principal,
    option_id: str,
    body: CapacityPatch,
    public: Callable[[Session, Any], dict[str, Any]],
) -> Any:
    family = session.get(FamilyRow, option_id)
    row: Any = family if family is not None else session.get(InstitutionRow, option_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise ApiError(404, f"no family or institution {option_id!r} in your kommuner")
    _patch_pool(session.get_one(CapacityPool, option_id), body.places, body.occupied, "occupied")
    if family is not None:
        if body.combination_places is not None or body.combination_occupied is not None:
            raise ApiError(
                422,
                "a family has no separate combination places",
                errors=[
                    {
                        "path": "body.combination_places",
                        "value": body.combination_places,
                        "allowed": "null for a foster family",
                    }
                ],
            )
        if body.paused is not None:
            family.paused = body.paused
            service.bump(session, "structure")
    else:
        if body.paused is not None:
            raise ApiError(
                422,
                "institutions are not paused",
                errors=[{"path": "body.paused", "value": body.paused, "allowed": "null"}],
            )
        _patch_pool(
            session.get_one(CapacityPool, combination_pool(option_id)),
            body.combination_places,
            body.combination_occupied,
            "combination_occupied",
        )
    if body.confirm_vacancy:
        row.vacancy_confirmed = date.today()
        service.bump(session, "structure")
    service.bump(session, "capacity")
    session.flush()
    return public(session, row)


@router.patch("/families/{family_id}/capacity", response_model=FamilyPublic, tags=["families"])
def patch_family_capacity(
    family_id: str, body: CapacityPatch, who: Consultant, session: SessionDep, service: ServiceDep
) -> Any:
    if session.get(FamilyRow, family_id) is None:
        raise ApiError(404, f"no family {family_id!r} in your kommuner")
    return patch_capacity(session, service, who, family_id, body, family_public)


@router.patch(
    "/institutions/{institution_id}/capacity",
    response_model=InstitutionPublic,
    tags=["institutions"],
)
def patch_institution_capacity(
    institution_id: str,
    body: CapacityPatch,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
) -> Any:
    if session.get(InstitutionRow, institution_id) is None:
        raise ApiError(404, f"no institution {institution_id!r} in your kommuner")
    return patch_capacity(session, service, who, institution_id, body, institution_public)


@router.get("/capacity")
def capacity_overview(who: Overview, session: SessionDep, service: ServiceDep) -> Any:
    """Free, reserved and occupied places by kommune, kind and level, and stale vacancies."""
    service.expire_holds(session)
    pools = {p.pool_id: p for p in session.scalars(select(CapacityPool))}
    groups: dict[tuple[str, str, str], dict[str, int]] = {}

    def add(kommune: str, kind: str, level: str, pool: CapacityPool) -> None:
        g = groups.setdefault(
            (kommune, kind, level), {"places": 0, "occupied": 0, "reserved": 0, "free": 0}
        )
        g["places"] += pool.places
        g["occupied"] += pool.occupied
        g["reserved"] += pool.reserved
        g["free"] += _free(pool)

    stale_before = date.today() - timedelta(days=service.policy.stale_days)
    stale: list[dict[str, Any]] = []
    for f in session.scalars(select(FamilyRow).order_by(FamilyRow.family_id)):
        add(f.kommune_code, "foster", f.level, pools[f.family_id])
        if not f.paused and vacancy_is_stale(f.vacancy_confirmed, stale_before):
            stale.append(
                {
                    "option_id": f.family_id,
                    "kind": "foster",
                    "kommune_code": f.kommune_code,
                    "vacancy_confirmed": f.vacancy_confirmed and f.vacancy_confirmed.isoformat(),
                }
            )
    for i in session.scalars(select(InstitutionRow).order_by(InstitutionRow.institution_id)):
        add(i.kommune_code, "institution", i.kind, pools[i.institution_id])
        comb = pools[combination_pool(i.institution_id)]
        if comb.places:
            add(i.kommune_code, "combination", i.kind, comb)
        if vacancy_is_stale(i.vacancy_confirmed, stale_before):
            stale.append(
                {
                    "option_id": i.institution_id,
                    "kind": "institution",
                    "kommune_code": i.kommune_code,
                    "vacancy_confirmed": i.vacancy_confirmed and i.vacancy_confirmed.isoformat(),
                }
            )
    return {
        "stale_days": service.policy.stale_days,
        "groups": [
            {"kommune_code": k, "kind": kind, "level": level, **v}
            for (k, kind, level), v in sorted(groups.items())
        ],
        "stale": stale,
    }
