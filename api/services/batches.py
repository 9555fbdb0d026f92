"""Planners' batch matches, run as background jobs on the service's job runner."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import BatchJob, ChildRow
from api.services.caller import Principal
from api.services.errors import Forbidden, Invalid, NotFound
from api.services.inputs import BatchCreate
from api.services.runtime import Service, now

__all__ = ["list_batches", "own_batch", "start_batch"]


def start_batch(session: Session, service: Service, who: Principal, body: BatchCreate) -> BatchJob:
    """Queue a batch match on the caller's kommuner (or named children in them); committed
    before the worker starts so that it sees the job."""
    outside = sorted(set(body.kommuner) - who.kommuner)
    if outside:
        raise Forbidden(f"kommuner {', '.join(outside)} are outside your kommuner")
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
            raise Invalid(
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
        raise NotFound(f"no batch {batch_id!r} in your kommuner")
    return job


def list_batches(session: Session, who: Principal, limit: int = 20) -> list[BatchJob]:
    """The caller's own newest batches."""
    return list(
        session.scalars(
            select(BatchJob)
            .where(BatchJob.created_by == who.key_id)
            .order_by(BatchJob.created_at.desc())
            .limit(limit)
        )
    )
