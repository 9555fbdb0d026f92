"""Foster families, institutions, their capacity, and the capacity overview."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from api.http.deps import ServiceDep, SessionDep, require
from api.http.idempotent import answer_once
from api.http.presenters import family_public, institution_public
from api.http.schemas import (
    CapacityPatch,
    FamilyCreate,
    FamilyPublic,
    InstitutionCreate,
    InstitutionPublic,
)
from api.services import options
from api.services.caller import Principal, Role
from api.services.options import StoredFamily

router = APIRouter(prefix="/v1", tags=["capacity"])
Consultant = Annotated[Principal, Depends(require(Role.CONSULTANT))]
Overview = Annotated[Principal, Depends(require(Role.CONSULTANT, Role.COORDINATOR, Role.PLANNER))]
Kommune = Annotated[str | None, Query(max_length=3)]
IdempotencyKey = Annotated[str | None, Header()]


def option_public(record: Any) -> dict[str, Any]:
    if isinstance(record, StoredFamily):
        return family_public(record)
    return institution_public(record)


@router.post("/families", status_code=201, response_model=FamilyPublic, tags=["families"])
def create_family(
    body: FamilyCreate,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return answer_once(
        session,
        who,
        idempotency_key,
        "POST /v1/families",
        201,
        lambda: family_public(options.create_family(session, service, who, body)),
    )


@router.get("/families", response_model=list[FamilyPublic], tags=["families"])
def list_families(who: Consultant, session: SessionDep, kommune: Kommune = None) -> Any:
    return [family_public(r) for r in options.list_families(session, who, kommune)]


@router.get("/families/{family_id}", response_model=FamilyPublic, tags=["families"])
def read_family(family_id: str, who: Consultant, session: SessionDep) -> Any:
    return family_public(options.read_family(session, who, family_id))


@router.put("/families/{family_id}", response_model=FamilyPublic, tags=["families"])
def update_family(
    family_id: str, body: FamilyCreate, who: Consultant, session: SessionDep, service: ServiceDep
) -> Any:
    return family_public(options.update_family(session, service, who, family_id, body))


@router.patch("/families/{family_id}/capacity", response_model=FamilyPublic, tags=["families"])
def patch_family_capacity(
    family_id: str, body: CapacityPatch, who: Consultant, session: SessionDep, service: ServiceDep
) -> Any:
    record = options.patch_capacity(session, service, who, family_id, body, only="family")
    return option_public(record)


@router.post(
    "/institutions", status_code=201, response_model=InstitutionPublic, tags=["institutions"]
)
def create_institution(
    body: InstitutionCreate,
    who: Consultant,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return answer_once(
        session,
        who,
        idempotency_key,
        "POST /v1/institutions",
        201,
        lambda: institution_public(options.create_institution(session, service, who, body)),
    )


@router.get("/institutions", response_model=list[InstitutionPublic], tags=["institutions"])
def list_institutions(who: Consultant, session: SessionDep, kommune: Kommune = None) -> Any:
    return [institution_public(r) for r in options.list_institutions(session, who, kommune)]


@router.get(
    "/institutions/{institution_id}", response_model=InstitutionPublic, tags=["institutions"]
)
def read_institution(institution_id: str, who: Consultant, session: SessionDep) -> Any:
    return institution_public(options.read_institution(session, who, institution_id))


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
    record = options.update_institution(session, service, who, institution_id, body)
    return institution_public(record)


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
    record = options.patch_capacity(session, service, who, institution_id, body, only="institution")
    return option_public(record)


@router.get("/capacity")
def capacity_overview(who: Overview, session: SessionDep, service: ServiceDep) -> Any:
    """Free, reserved and occupied places by kommune, kind and level, and stale vacancies."""
    overview = options.capacity_overview(session, service)
    return {
        "stale_days": overview.stale_days,
        "groups": [asdict(g) for g in overview.groups],
        "stale": [
            asdict(s)
            | {"vacancy_confirmed": s.vacancy_confirmed and s.vacancy_confirmed.isoformat()}
            for s in overview.stale
        ],
    }
