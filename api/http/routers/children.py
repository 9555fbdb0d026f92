"""Children (with network, exclusions, keep-away) and their proposals: coordinators only,
inside their kommuner; every read or write of a child's record is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.deps import ServiceDep, SessionDep, read_only, require
from api.errors import ApiError, issues_to_errors
from api.idempotency import remember, replay
from api.orm import (
    CapacityPool,
    ChildRow,
    ExclusionRow,
    FamilyRow,
    InstitutionRow,
    KeepAwayRow,
    NetworkRow,
)
from api.schemas import ChildCreate, ChildPublic, ProposalRequest
from api.security import Principal, Role
from api.service import Service
from api.store import child_rows
from matcher.rank import UnknownChild
from models.dataset import parse_record
from models.domain import Child, Exclusion, KeepAway, NetworkPerson

router = APIRouter(prefix="/v1/children", tags=["children"])
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]


def child_or_404(session: Session, who: Principal, child_id: str) -> ChildRow:
    """404 both for ids that do not exist and for children outside the caller's kommuner,
    so that existence is never revealed across kommuner."""
    row = session.get(ChildRow, child_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise ApiError(404, f"no child {child_id!r} in your kommuner")
    return row


def _split(text: str) -> list[str]:
    return [v for v in text.split(";") if v]


def child_public(session: Session, row: ChildRow) -> dict[str, Any]:
    data = {
        c.name: getattr(row, c.name) for c in ChildRow.__table__.columns if c.name != "position"
    }
    data["needs"] = _split(row.needs)
    data["wishes"] = _split(row.wishes)
    data["network"] = [
        {
            "person_id": p.person_id,
            "relation": p.relation,
            "via": p.via,
            "lat": p.lat,
            "lon": p.lon,
            "postcode": p.postcode,
            "status": p.status,
            "places": p.places,
            "willing": p.willing,
        }
        for p in session.scalars(
            select(NetworkRow)
            .where(NetworkRow.child_id == row.child_id)
            .order_by(NetworkRow.position, NetworkRow.person_id)
        )
    ]
    data["exclusions"] = [
        {"option_id": e.option_id, "reason": e.reason}
        for e in session.scalars(
            select(ExclusionRow)
            .where(ExclusionRow.child_id == row.child_id)
            .order_by(ExclusionRow.id)
        )
    ]
    data["keep_away"] = [
        {"lat": k.lat, "lon": k.lon, "postcode": k.postcode, "min_km": k.min_km, "reason": k.reason}
        for k in session.scalars(
            select(KeepAwayRow).where(KeepAwayRow.child_id == row.child_id).order_by(KeepAwayRow.id)
        )
    ]
    return ChildPublic.model_validate(data).model_dump(mode="json")


def _parse_items(
    service: Service,
    key: str,
    items: Sequence[BaseModel],
    child_id: str,
    errors: list[dict[str, Any]],
) -> list[Any]:
    """Each nested item of a child (network person, exclusion, keep-away) checked by the
    dataset parser for `key`; problems are added to `errors` under `body.<key>[n]`."""
    records = []
    for n, item in enumerate(items):
        record, issues = parse_record(
            key, item.model_dump() | {"child_id": child_id}, service.gazetteer
        )
        errors += issues_to_errors(issues, f"body.{key}[{n}]")
        if record is not None:
            records.append(record)
    return records


def _validated(
    service: Service, session: Session, who: Principal, body: ChildCreate
) -> tuple[Child, list[NetworkPerson], list[Exclusion], list[KeepAway]]:
    """The body checked by the dataset's own parsers, plus the cross-references."""
    if not who.in_scope(body.kommune_code):
        raise ApiError(403, f"kommune {body.kommune_code} is outside your kommuner")
    values = body.model_dump(exclude={"network", "exclusions", "keep_away"})
    child, issues = parse_record("children", values, service.gazetteer)
    errors = issues_to_errors(issues)
    persons: list[NetworkPerson] = _parse_items(
        service, "network", body.network, body.child_id, errors
    )
    exclusions: list[Exclusion] = _parse_items(
        service, "exclusions", body.exclusions, body.child_id, errors
    )
    keeps: list[KeepAway] = _parse_items(
        service, "keep_away", body.keep_away, body.child_id, errors
    )
    own = {p.person_id for p in body.network}
    for n, p in enumerate(body.network):
        if p.via is not None and (p.via not in own or p.via == p.person_id):
            errors.append(
                {
                    "path": f"body.network[{n}].via",
                    "value": p.via,
                    "allowed": "another person_id in this child's network",
                }
            )
    options = set(session.scalars(select(FamilyRow.family_id))) | set(
        session.scalars(select(InstitutionRow.institution_id))
    )
    for n, w in enumerate(body.wishes):
        if w not in options | own:
            errors.append(
                {
                    "path": f"body.wishes[{n}]",
                    "value": w,
                    "allowed": "ids of families, institutions or this child's network",
                }
            )
    for n, e in enumerate(body.exclusions):
        if e.option_id not in options | own:
            errors.append(
                {
                    "path": f"body.exclusions[{n}].option_id",
                    "value": e.option_id,
                    "allowed": "an id of a family, institution or network person",
                }
            )
    for n, p in enumerate(body.network):
        pool = session.get(CapacityPool, p.person_id)
        if pool is not None and (pool.kind != "network" or pool.places != p.places):
            errors.append(
                {
                    "path": f"body.network[{n}].places",
                    "value": p.places,
                    "allowed": f"the person's places as recorded ({pool.places})"
                    if pool.kind == "network"
                    else "a person_id not used by an option",
                }
            )
    if errors or child is None:
        raise ApiError(422, "the child record is not valid", errors=errors)
    return child, persons, exclusions, keeps


def _store(
    service: Service,
    session: Session,
    child: Child,
    persons: list[NetworkPerson],
    exclusions: list[Exclusion],
    keeps: list[KeepAway],
    position: int,
) -> None:
    session.add_all(child_rows(child, tuple(persons), exclusions, keeps, position))
    for p in persons:
        if session.get(CapacityPool, p.person_id) is None:
            session.add(
                CapacityPool(
                    pool_id=p.person_id, kind="network", places=p.places, occupied=0, reserved=0
                )
            )
    service.bump(session, "structure")


@router.post("", status_code=201, response_model=ChildPublic)
def create_child(
    body: ChildCreate,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if (done := replay(session, who, idempotency_key, "POST /v1/children")) is not None:
        return done
    if session.get(ChildRow, body.child_id) is not None:
        raise ApiError(409, f"child {body.child_id!r} exists already")
    child, persons, exclusions, keeps = _validated(service, session, who, body)
    position = session.scalar(select(func.count()).select_from(ChildRow)) or 0
    _store(service, session, child, persons, exclusions, keeps, position)
    session.flush()
    service.audit(session, who, "child.create", child.child_id)
    body_out = child_public(session, session.get_one(ChildRow, child.child_id))
    remember(session, who, idempotency_key, "POST /v1/children", 201, body_out)
    return JSONResponse(body_out, status_code=201)


@router.get("", response_model=list[ChildPublic])
@read_only
def list_children(
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    kommune: Annotated[str | None, Query(max_length=3)] = None,
) -> Any:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(ChildRow)
        .where(ChildRow.kommune_code.in_(sorted(codes)))
        .order_by(ChildRow.position, ChildRow.child_id)
    ).all()
    service.audit_read(who, "child.list", [row.child_id for row in rows])
    return [child_public(session, row) for row in rows]


@router.get("/{child_id}", response_model=ChildPublic)
@read_only
def read_child(child_id: str, who: Coordinator, session: SessionDep, service: ServiceDep) -> Any:
    row = child_or_404(session, who, child_id)
    service.audit_read(who, "child.read", [child_id])
    return child_public(session, row)


@router.put("/{child_id}", response_model=ChildPublic)
def update_child(
    child_id: str, body: ChildCreate, who: Coordinator, session: SessionDep, service: ServiceDep
) -> Any:
    row = child_or_404(session, who, child_id)
    if body.child_id != child_id:
        raise ApiError(
            422,
            "child_id in the body must match the path",
            errors=[{"path": "body.child_id", "value": body.child_id, "allowed": child_id}],
        )
    child, persons, exclusions, keeps = _validated(service, session, who, body)
    position = row.position
    for table in (KeepAwayRow, ExclusionRow, NetworkRow):
        session.execute(delete(table).where(table.child_id == child_id))
    session.delete(row)
    session.flush()
    _store(service, session, child, persons, exclusions, keeps, position)
    session.flush()
    service.audit(session, who, "child.update", child_id)
    return child_public(session, session.get_one(ChildRow, child_id))


@router.post("/{child_id}/proposals")
@read_only
def proposals(
    child_id: str,
    who: Coordinator,
    session: SessionDep,
    service: ServiceDep,
    body: ProposalRequest | None = None,
) -> Any:
    """The ranking JSON of `placement rank` for this child (or its sibling group)."""
    body = body or ProposalRequest()
    child_or_404(session, who, child_id)
    # Holds past their expiry are freed by the service's reaper (and by every writing
    # route), not here: this route takes no write lock.
    matcher = service.matcher(session)
    service.audit_read(who, "child.proposals", [child_id])
    try:
        ranking = matcher.rank(
            child_id, top=body.top, why_not=body.why_not, as_of=body.as_of or date.today()
        )
    except UnknownChild:
        raise ApiError(404, f"no child {child_id!r} in your kommuner") from None
    # The ranking dict holds only JSON types already; FastAPI's generic encoder would walk
    # its few hundred values again on every request (a fifth of the route's CPU).
    return JSONResponse(ranking.as_dict())
