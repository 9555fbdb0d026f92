"""Planners' pages: batch matches started in the browser and their results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.db.engine import DbSession
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep, read_only
from api.reports.danish import fmt_date
from api.services import batches
from api.services.caller import Principal, Role
from api.services.errors import NotFound
from api.services.inputs import BatchCreate
from api.web.batchview import batch_view, waiting_for_extras
from api.web.common import (
    CsrfField,
    FormInvalid,
    PageError,
    User,
    check_csrf,
    need,
    parse_form,
    redirect,
    render,
)
from api.web.labels import JOB_STAGES, JOB_STATUS, SOLUTION_STATUS, SOLVERS

router = APIRouter(prefix="/ui", include_in_schema=False)
FIRST_TIME_LIMIT = "60"
OFFERED = ("auto", "greedy")  # the solvers the page offers


def _batches(
    request: Request,
    session: DbSession,
    user: tuple[Principal, UiSession],
    message: str | None = None,
    entered: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The planner's page; `entered` re-shows a refused form's values with the message."""
    who = user[0]
    context = {
        "jobs": batches.list_batches(session, who),
        "job_status": JOB_STATUS,
        "kommuner": sorted(who.kommuner),
        "solvers": {name: SOLVERS[name] for name in OFFERED},
        "message": message,
        "entered": entered or {"kommune": "", "solver": "auto", "time_limit": FIRST_TIME_LIMIT},
        "invalid": entered.get("invalid", frozenset()) if entered else frozenset(),
    }
    return render(request, "batches.html", context, user, status=status)


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: SessionDep, user: User) -> Response:
    need(user, Role.PLANNER)
    return _batches(request, session, user)


@router.post("/batches")
def start_batch_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    kommune: Annotated[str, Form()] = "",
    solver: Annotated[str, Form()] = "",
    time_limit: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.PLANNER)
    check_csrf(user, csrf_token)
    if kommune and kommune not in who.kommuner:
        raise PageError(403, f"Kommune {kommune} er ikke blandt dine kommuner.")
    values = {"kommuner": [kommune] if kommune else [], "solver": solver, "time_limit": time_limit}
    try:
        body = parse_form(BatchCreate, values)
    except FormInvalid as exc:
        entered: dict[str, Any] = {
            "kommune": kommune,
            "solver": solver,
            "time_limit": time_limit,
            "invalid": exc.fields,
        }
        return _batches(request, session, user, exc.message, entered, status=422)
    job = batches.start_batch(session, service, who, body)
    return redirect(f"/ui/batches/{job.id}")


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
@read_only
def batch_page(
    request: Request, batch_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.PLANNER)
    try:
        job = batches.read_batch(session, service, who, batch_id)
    except NotFound:
        raise PageError(404, f"Kørslen {batch_id} findes ikke i dine kommuner.") from None
    result = job.result or {}
    context = {
        "job": job,
        "running": job.status in ("queued", "running") or waiting_for_extras(job),
        "status": JOB_STATUS.get(job.status, job.status),
        "stage": JOB_STAGES.get(job.stage, job.stage),
        "solution": SOLUTION_STATUS.get(str(result.get("status")), result.get("status")),
        "solver": SOLVERS.get(str(result.get("solver")), result.get("solver")),
        "result": result,
        "view": batch_view(result) if result else {},
        "started": fmt_date(job.created_at.astimezone()),
        "failed": job.status == "failed",
    }
    return render(request, "batch.html", context, user)
