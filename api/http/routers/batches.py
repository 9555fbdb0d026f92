"""Planners' batch matches, run as background jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from api.http.deps import ServiceDep, SessionDep, read_only, require
from api.http.idempotent import answer_once
from api.http.presenters import batch_public
from api.http.schemas import BatchCreate, BatchPublic
from api.services import batches
from api.services.caller import Principal, Role

router = APIRouter(prefix="/v1/batches", tags=["batches"])
Planner = Annotated[Principal, Depends(require(Role.PLANNER))]


@router.post("", status_code=202, response_model=BatchPublic)
def create_batch(
    body: BatchCreate,
    who: Planner,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    return answer_once(
        session,
        who,
        idempotency_key,
        "POST /v1/batches",
        202,
        lambda: batch_public(batches.start_batch(session, service, who, body)),
    )


@router.get("/{batch_id}", response_model=BatchPublic)
@read_only
def read_batch(batch_id: str, who: Planner, session: SessionDep, service: ServiceDep) -> Any:
    """The job's status, stage and progress, then the `placement match` JSON; every child the
    answer carries is audited (`batch.read`)."""
    return batch_public(batches.read_batch(session, service, who, batch_id))
