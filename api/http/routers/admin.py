"""Administration: API keys and the audit trail, within the admin key's kommuner (a national
admin key, made only on the command line, administers every kommune)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.http.deps import ServiceDep, SessionDep, require
from api.http.presenters import key_public
from api.http.schemas import AuditPublic, KeyCreate, KeyCreated, KeyPublic
from api.services import audit, keys
from api.services.caller import Principal, Role

router = APIRouter(prefix="/v1", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# Ids are the database's integers: larger values are refused before they reach it.
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id.")]


@router.get("/audit", response_model=list[AuditPublic])
def read_audit(
    who: Admin,
    session: SessionDep,
    child_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Any:
    """The newest audit rows of the caller's kommuner: rows of children in them, and the
    child-less rows (keys, batch jobs) whose kommuner all lie within them."""
    return [
        AuditPublic.model_validate(e, from_attributes=True).model_dump(mode="json")
        for e in audit.read_audit(session, who, child_id, limit)
    ]


@router.post("/keys", status_code=201, response_model=KeyCreated)
def new_key(body: KeyCreate, who: Admin, session: SessionDep, service: ServiceDep) -> Any:
    """A key within the caller's kommuner (403 naming the others); printed once. No
    Idempotency-Key: a replay would have to keep the key's clear text."""
    row, key = keys.issue_key(session, service.gazetteer, who, body)
    return KeyCreated(
        id=row.id, role=row.role, kommuner=sorted(keys.key_kommuner(row)), label=row.label, key=key
    )


@router.get("/keys", response_model=list[KeyPublic])
def list_keys(who: Admin, session: SessionDep) -> Any:
    """The keys whose kommuner all lie within the caller's; never a hash."""
    return [key_public(k) for k in keys.list_keys(session, who)]


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: KeyId, who: Admin, session: SessionDep) -> Response:
    """Revoke a key within the caller's kommuner: refused from the next request on, by every
    worker. 404 alike for a missing id and a key outside them; a revoked key again: 204."""
    keys.revoke_key(session, who, key_id)
    return Response(status_code=204)
