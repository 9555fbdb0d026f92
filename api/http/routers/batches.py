"""Planners' batch matches, run as background jobs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ServiceDep, SessionDep, require
from api.errors import ApiError
from api.idempotency import remember, replay
from api.orm import BatchJob, ChildRow
from api.schemas import BatchCreate, BatchPublic
from api.security import Principal, Role
from api.service import Service, now

router = APIRouter(prefix="/v1/batches", tags=["batches"])
Planner = Annotated[Principal, Depends(require(Role.PLANNER))]


def public(job: BatchJob) -> dict[str, Any]:
    return BatchPublic(
        id=job.id,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=job.error,
        result=job.result,
    ).model_dump(mode="json")


def start_batch(session: Session, service: Service, who: Principal, body: BatchCreate) -> BatchJob:
    """Queue a batch match on the caller's kommuner (or named children in them); committed
    before the worker starts so that it sees the job."""
    outside = sorted(set(body.kommuner) - who.kommuner)
    if outside:
        raise ApiError(403, f"kommuner {', '.join(outside)} are outside your kommuner")
    kommuner = sorted(body.kommuner or who.kommuner)
    if body.child_ids:
        known = dict(
            session.execute(
                select(ChildRow.child_id, ChildRow.kommune_code).where(
                    ChildRow.child_id.in_(body.child_ids)
                )
            ).all()
        )
        missing = [c for c in body.child_ids if c not in known or known[c] not in who.kommuner]
        if missing:
            raise ApiError(
                422,
                "unknown children in the cohort",
                errors=[
                    {
                        "path": "body.child_ids",
                        "value": missing[:20],
                        "allowed": "child ids in your kommuner",
                    }
                ],
            )
    params = body.model_dump(mode="json") | {"kommuner": [] if body.child_ids else kommuner}
    job = BatchJob(
        id=str(uuid.uuid4()),
        status="queued",
        stage="queued",
        progress=0.0,
        params=params,
        created_by=who.key_id,
        kommuner=";".join(kommuner),
        created_at=now(),
    )
    session.add(job)
    session.commit()  # the job thread must see the row
    service.submit_batch(job.id)
    return job


def own_batch(session: Session, who: Principal, batch_id: str) -> BatchJob:
    job = session.get(BatchJob, batch_id)
    if job is None or not set(job.kommuner.split(";")) <= who.kommuner:
        raise ApiError(404, f"no batch {batch_id!r} in your kommuner")
    return job


@router.post("", status_code=202, response_model=BatchPublic)
def create_batch(
    body: BatchCreate,
    who: Planner,
    session: SessionDep,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if (done := replay(session, who, idempotency_key, "POST /v1/batches")) is not None:
        return done
    job = start_batch(session, service, who, body)
    out = public(job)
    remember(session, who, idempotency_key, "POST /v1/batches", 202, out)
    session.commit()
    return JSONResponse(out, status_code=202)


@router.get("/{batch_id}", response_model=BatchPublic)
def read_batch(batch_id: str, who: Planner, session: SessionDep) -> Any:
    return public(own_batch(session, who, batch_id))
