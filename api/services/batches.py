"""Planners' batch matches, run as background jobs on the service's job runner.

Batches are audited like every read of a child's record. Starting one writes a `batch.create`
row per child named in the cohort, or one child-less row naming the job's kommuner when the
cohort is a whole kommune. Reading one (`read_batch`) writes a `batch.read` row per child its
answer carries (the named cohort, the result's assignments and unassigned children), through
the group-committing audit log before the answer leaves; an answer with no child in it (a
kommune's job still queued or running, or failed) gets one child-less row naming the job's
kommuner. Every row's detail names the job (`batch=<id>`)."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db.engine import session_scope
from api.db.orm import AuditEntry, BatchJob, ChildRow
from api.services.audit import scope_detail
from api.services.caller import Principal
from api.services.errors import Forbidden, Invalid, NotFound
from api.services.inputs import BatchCreate
from api.services.runtime import Service, now
from matcher.cohort import run_match, select_units
from matcher.economy import assignment_economy

__all__ = [
    "add_comparison",
    "batch_children",
    "list_batches",
    "own_batch",
    "read_batch",
    "start_batch",
]

log = logging.getLogger("placement.service")


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
    if body.child_ids:
        for child_id in dict.fromkeys(body.child_ids):
            service.audit(session, who, "batch.create", child_id, f"batch={job.id}")
    else:
        service.audit(session, who, "batch.create", None, scope_detail(kommuner, f"batch={job.id}"))
    session.commit()  # the job thread must see the row (and its audit rows are in)
    service.submit_batch(job.id)
    # The job runner has one thread, so this runs right after the batch, on the same data.
    service.jobs.submit(add_comparison, service, job.id)
    return job


def add_comparison(service: Service, job_id: str) -> None:
    """Add to a finished batch what planners compare it with: the cost of its assignment
    (`economy`) and one-at-a-time placement (`greedy`: today's practice, the same cohort
    solved by the greedy solver, with its KPIs and cost). Cost is computed from the
    assignment only; it never enters the solve. A failure is recorded, not raised."""
    with session_scope(service.sessions) as session:
        job = session.get(BatchJob, job_id)
        if job is None or job.status != "done" or not job.result:
            return
        params = dict(job.params or {})
        result = dict(job.result)
        matcher = service.matcher(session)
    extra: dict[str, Any]
    try:
        economy = assignment_economy(matcher.dataset, matcher.policies, result["assignments"])
        as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
        units = select_units(
            matcher, params.get("child_ids") or None, params.get("kommuner") or None
        )
        greedy = run_match(
            matcher,
            units=units,
            solver="greedy",
            as_of=as_of,
            allow_sibling_split=bool(params.get("allow_sibling_split")),
        )
        greedy_rows = greedy.assignments
        extra = {
            "economy": economy.as_dict(),
            "greedy": {
                "objective": greedy.solution.objective.as_dict(),
                "kpis": greedy.kpis.as_dict(),
                "economy": assignment_economy(
                    matcher.dataset, matcher.policies, greedy_rows
                ).as_dict(),
                "km_to_school": [
                    r["km_to_school"] for r in greedy_rows if r["km_to_school"] is not None
                ],
            },
        }
    except Exception as exc:  # the batch's own answer stands; the page says what is missing
        log.error("batch comparison failed", extra={"job": job_id, "error": type(exc).__name__})
        extra = {"comparison_error": str(exc)[:300]}
    with session_scope(service.sessions) as session:
        session.execute(update(BatchJob).where(BatchJob.id == job_id).values(result=result | extra))


def own_batch(session: Session, who: Principal, batch_id: str) -> BatchJob:
    """The job, or NotFound alike for a missing id and a job outside the caller's kommuner.
    Not audited: `read_batch` is the read of its answer."""
    job = session.get(BatchJob, batch_id)
    # What-if runs share the table (ids starting with "w"); they are not batches.
    if job is None or job.id.startswith("w") or not set(job.kommuner.split(";")) <= who.kommuner:
        raise NotFound(f"no batch {batch_id!r} in your kommuner")
    return job


def batch_children(job: BatchJob) -> list[str]:
    """The child ids a job's answer carries: the named cohort and the result's assigned and
    unassigned children, each once."""
    ids = [str(c) for c in (job.params or {}).get("child_ids") or ()]
    result = job.result or {}
    for part in ("assignments", "unassigned"):
        ids += [str(row["child_id"]) for row in result.get(part) or () if "child_id" in row]
    return list(dict.fromkeys(ids))


def read_batch(session: Session, service: Service, who: Principal, batch_id: str) -> BatchJob:
    """The job with its answer, audited before it is returned (one row per child it carries,
    or one child-less row naming the job's kommuner)."""
    job = own_batch(session, who, batch_id)
    moment = now()
    detail = f"batch={job.id}"
    children: list[str | None] = list(batch_children(job))
    if not children:
        children = [None]
        detail = scope_detail(job.kommuner.split(";"), f"{detail} status={job.status}")
    service.audit_log.write(
        [
            AuditEntry(
                at=moment,
                key_id=who.key_id,
                role=who.role.value,
                action="batch.read",
                child_id=child_id,
                detail=detail,
            )
            for child_id in children
        ]
    )
    return job


def list_batches(session: Session, who: Principal, limit: int = 20) -> list[BatchJob]:
    """The caller's own newest batches."""
    return list(
        session.scalars(
            select(BatchJob)
            .where(BatchJob.created_by == who.key_id, ~BatchJob.id.startswith("w"))
            .order_by(BatchJob.created_at.desc())
            .limit(limit)
        )
    )
