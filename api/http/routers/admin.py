"""Administration: API keys and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.http.deps import SessionDep, require
from api.http.schemas import AuditPublic, KeyCreate, KeyCreated
from api.services import audit, keys
from api.services.caller import Principal, Role

router = APIRouter(prefix="/v1", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


@router.get("/audit", response_model=list[AuditPublic])
def read_audit(
    who: Admin,
    session: SessionDep,
    child_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Any:
    return [
        AuditPublic.model_validate(e, from_attributes=True).model_dump(mode="json")
        for e in audit.read_audit(session, child_id, limit)
    ]


@router.post("/keys", status_code=201, response_model=KeyCreated)
def new_key(body: KeyCreate, who: Admin, session: SessionDep) -> Any:
    row, key = keys.mint_key(session, Role(body.role), body.kommuner, body.label)
    return KeyCreated(id=row.id, role=body.role, kommuner=sorted(set(body.kommuner)), key=key)


@router.get("/keys")
def list_keys(who: Admin, session: SessionDep) -> Any:
    return [
        {
            "id": k.id,
            "role": k.role,
            "kommuner": [c for c in k.kommuner.split(";") if c],
            "label": k.label,
            "revoked": k.revoked,
        }
        for k in keys.list_keys(session)
    ]
