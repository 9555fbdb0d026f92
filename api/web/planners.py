"""Planners' pages: batch matches started in the browser and their results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.http.deps import ServiceDep, SessionDep
from api.reports.report import flatten
from api.services import batches
from api.services.caller import Role
from api.services.errors import NotFound
from api.services.inputs import BatchCreate
from api.web.common import CsrfField, PageError, User, check_csrf, need, redirect, render
from models.enums import Solver

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: SessionDep, user: User) -> Response:
    who = need(user, Role.PLANNER)
    jobs = batches.list_batches(session, who)
    return render(request, "batches.html", {"jobs": jobs, "kommuner": sorted(who.kommuner)}, user)


@router.post("/batches")
def start_batch_page(
    session: SessionDep,
    service: ServiceDep,
    user: User,
    kommune: Annotated[str, Form(max_length=3)] = "",
    solver: Annotated[str, Form(max_length=8)] = "auto",
    time_limit: Annotated[float, Form(gt=0, le=3600)] = 60,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.PLANNER)
    check_csrf(user, csrf_token)
    if kommune and kommune not in who.kommuner:
        raise PageError(403, f"Kommune {kommune} er ikke blandt dine kommuner.")
    if solver not in set(Solver):
        raise PageError(422, "Vælg en løser: auto, flow, cpsat eller greedy.")
    body = BatchCreate(
        kommuner=[kommune] if kommune else [], solver=Solver(solver), time_limit=time_limit
    )
    job = batches.start_batch(session, service, who, body)
    return redirect(f"/ui/batches/{job.id}")


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, session: SessionDep, user: User) -> Response:
    who = need(user, Role.PLANNER)
    try:
        job = batches.own_batch(session, who, batch_id)
    except NotFound:
        raise PageError(404, f"Kørslen {batch_id} findes ikke i dine kommuner.") from None
    result = job.result or {}
    context = {
        "job": job,
        "running": job.status in ("queued", "running"),
        "result": result,
        "objective": result.get("objective", {}),
        "kpis": flatten(result.get("kpis", {})) if result else {},
        "unassigned": len(result.get("unassigned", [])),
    }
    return render(request, "batch.html", context, user)
