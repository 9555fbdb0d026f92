"""Planners' what-if pages: build a scenario or paste a scenario file, run it as a background
job against the service's data, read the report in Danish, download it, run it again and
compare two runs."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.db.engine import DbSession
from api.db.orm import BatchJob, UiSession
from api.http.deps import ServiceDep, SessionDep, read_only
from api.reports.danish import fmt_date
from api.reports.report import flatten
from api.reports.whatif_view import standalone_html, whatif_view
from api.services import whatif
from api.services.caller import Principal, Role
from api.services.errors import Invalid, NotFound
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
    secure,
)
from api.web.labels import JOB_STAGES, JOB_STATUS, LEVELS

router = APIRouter(prefix="/ui", include_in_schema=False)
Text = Annotated[str, Form()]
BUILDER = (
    "name",
    "description",
    "add_count",
    "add_level",
    "add_places",
    "add_kommuner",
    "pause_ids",
    "remove_ids",
    "close_ids",
    "set_ids",
    "set_places",
    "foster_km",
    "institution_km",
    "cohort_kommune",
    "min_age",
    "max_age",
    "solver",
    "months",
    "budget",
)
FOSTER_LEVELS = {"almen": LEVELS[1], "forstaerket": LEVELS[2], "specialiseret": LEVELS[3]}
EXAMPLE = """# Eksempel: base kan udelades; tjenestens aktuelle data er udgangspunktet.
as_of = "2026-11-01"
seed = 1

[[scenario]]
name = "flere-forstaerkede"
description = "Ti forstærkede plejefamilier"
  [[scenario.change]]
  type = "add_families"
  count = 10
  level = "forstaerket"
  places = 2
"""


def _page(
    request: Request,
    session: DbSession,
    user: tuple[Principal, UiSession],
    *,
    message: str | None = None,
    issues: list[str] | None = None,
    entered: dict[str, str] | None = None,
    text: str = "",
    invalid: frozenset[str] = frozenset(),
    status: int = 200,
) -> Response:
    who = user[0]
    runs = whatif.list_whatifs(session, who)
    context = {
        "runs": [
            {
                "id": r.id,
                "name": whatif.run_name(r),
                "started": fmt_date(r.created_at.astimezone()),
                "time": r.created_at.astimezone().strftime("%H:%M"),
                "status": JOB_STATUS.get(r.status, r.status),
            }
            for r in runs
        ],
        "kommuner": sorted(who.kommuner),
        "levels": FOSTER_LEVELS,
        "message": message,
        "issues": issues or [],
        "entered": entered or {"solver": "auto", "add_level": "almen", "add_places": "1"},
        "text": text,
        "example": EXAMPLE,
        "invalid": invalid,
    }
    return render(request, "whatif.html", context, user, status=status)


@router.get("/whatif", response_class=HTMLResponse)
def whatif_page(request: Request, session: SessionDep, user: User) -> Response:
    need(user, Role.PLANNER)
    return _page(request, session, user)


@router.post("/whatif")
def start_whatif_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    scenario: Text = "",
    name: Text = "",
    description: Text = "",
    add_count: Text = "",
    add_level: Text = "",
    add_places: Text = "",
    add_kommuner: Text = "",
    pause_ids: Text = "",
    remove_ids: Text = "",
    close_ids: Text = "",
    set_ids: Text = "",
    set_places: Text = "",
    foster_km: Text = "",
    institution_km: Text = "",
    cohort_kommune: Text = "",
    min_age: Text = "",
    max_age: Text = "",
    solver: Text = "",
    months: Text = "",
    budget: Text = "",
    kind: Text = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.PLANNER)
    check_csrf(user, csrf_token)
    if kind == "text" and not scenario.strip():
        return _page(
            request,
            session,
            user,
            message="Scenariefil (TOML): skal udfyldes.",
            invalid=frozenset({"scenario"}),
            status=422,
        )
    values = {
        "name": name,
        "description": description,
        "add_count": add_count,
        "add_level": add_level,
        "add_places": add_places,
        "add_kommuner": add_kommuner,
        "pause_ids": pause_ids,
        "remove_ids": remove_ids,
        "close_ids": close_ids,
        "set_ids": set_ids,
        "set_places": set_places,
        "foster_km": foster_km,
        "institution_km": institution_km,
        "cohort_kommune": cohort_kommune,
        "min_age": min_age,
        "max_age": max_age,
        "solver": solver,
        "months": months,
        "budget": budget,
    }
    source = "text"
    text = scenario
    if not scenario.strip():
        if cohort_kommune and cohort_kommune not in who.kommuner:
            raise PageError(403, f"Kommune {cohort_kommune} er ikke blandt dine kommuner.")
        try:
            form = parse_form(whatif.ScenarioForm, values, required=("name",))
        except FormInvalid as exc:
            return _page(
                request,
                session,
                user,
                message=exc.message,
                entered=values,
                invalid=exc.fields,
                status=422,
            )
        text = form.to_toml()
        source = "form"
    try:
        job = whatif.start_whatif(session, service, who, text, source)
    except Invalid as exc:
        issues = [str(e.get("value")) for e in exc.errors if e.get("path") == "scenario"]
        other = [
            f"{e.get('path')}: {e.get('value')} (tilladt: {e.get('allowed')})"
            for e in exc.errors
            if e.get("path") != "scenario"
        ]
        return _page(
            request,
            session,
            user,
            message="Scenariet kan ikke køres. Ret det og prøv igen.",
            issues=(issues + other) or [exc.detail],
            entered=values,
            text=scenario,
            status=422,
        )
    return redirect(f"/ui/whatif/{job.id}")


def _read(session: DbSession, service: ServiceDep, who: Principal, run_id: str) -> BatchJob:
    try:
        return whatif.read_whatif(session, service, who, run_id)
    except NotFound:
        raise PageError(404, f"Kørslen {run_id} findes ikke i dine kommuner.") from None


def _view(job: BatchJob) -> Any:
    result = job.result or {}
    return whatif_view(
        result.get("outcomes", []), result.get("economies", {}), (job.params or {}).get("budget")
    )


@router.get("/whatif/compare", response_class=HTMLResponse)
@read_only
def compare_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    a: Annotated[str, Query(max_length=40)] = "",
    b: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Two finished runs side by side: the first run's baseline and every other scenario of
    both (a name taken twice gets the run's short id)."""
    who = need(user, Role.PLANNER)
    first, second = _read(session, service, who, a), _read(session, service, who, b)
    outcomes: list[dict[str, Any]] = []
    economies: dict[str, Any] = {}
    for n, job in enumerate((first, second)):
        result = job.result or {}
        for o in result.get("outcomes", []):
            if o["name"] == "baseline" and n:
                continue
            name = o["name"]
            if any(x["name"] == name for x in outcomes):
                name = f"{name} ({job.id[1:7]})"
            outcomes.append(o | {"name": name})
            if o["name"] in result.get("economies", {}):
                economies[name] = result["economies"][o["name"]]
    view = whatif_view(outcomes, economies)
    context = {
        "title": f"Sammenligning: {whatif.run_name(first)} og {whatif.run_name(second)}",
        "body": view.html_body(),
        "runs": (first, second),
    }
    return render(request, "whatif_compare.html", context, user)


@router.get("/whatif/{run_id}", response_class=HTMLResponse)
@read_only
def report_page(
    request: Request, run_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.PLANNER)
    job = _read(session, service, who, run_id)
    params = job.params or {}
    done = job.status == "done"
    others = [
        {"id": r.id, "name": whatif.run_name(r)}
        for r in whatif.list_whatifs(session, who)
        if r.id != job.id and r.status == "done"
    ]
    context = {
        "job": job,
        "name": whatif.run_name(job),
        "running": job.status in ("queued", "running"),
        "status": JOB_STATUS.get(job.status, job.status),
        "stage": JOB_STAGES.get(job.stage, job.stage),
        "started": fmt_date(job.created_at.astimezone()),
        "body": _view(job).html_body() if done else "",
        "scenario": params.get("scenario", ""),
        "base_ignored": "base" in (params.get("notes") or ()),
        "others": others,
        "outcomes": [o["name"] for o in (job.result or {}).get("outcomes", [])],
    }
    return render(request, "whatif_report.html", context, user)


@router.post("/whatif/{run_id}/rerun")
def rerun_page(
    run_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    csrf_token: CsrfField = "",
) -> Response:
    """Run a saved scenario again on today's data."""
    who = need(user, Role.PLANNER)
    check_csrf(user, csrf_token)
    try:
        old = whatif.own_whatif(session, who, run_id)
    except NotFound:
        raise PageError(404, f"Kørslen {run_id} findes ikke i dine kommuner.") from None
    params = old.params or {}
    try:
        job = whatif.start_whatif(
            session, service, who, str(params.get("scenario", "")), str(params.get("source"))
        )
    except Invalid as exc:
        raise PageError(422, f"Scenariet kan ikke køres igen: {exc.detail}") from None
    return redirect(f"/ui/whatif/{job.id}")


def _download(body: str, media: str, filename: str) -> Response:
    response = Response(body.encode("utf-8"), media_type=media)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return secure(response)


def _finished(job: BatchJob) -> dict[str, Any]:
    if job.status != "done" or not job.result:
        raise PageError(409, "Kørslen er ikke færdig endnu.")
    return dict(job.result)


@router.get("/whatif/{run_id}/report.html")
@read_only
def report_file(run_id: str, session: SessionDep, service: ServiceDep, user: User) -> Response:
    who = need(user, Role.PLANNER)
    job = _read(session, service, who, run_id)
    _finished(job)
    title = f"Hvad nu hvis: {whatif.run_name(job)}"
    return _download(standalone_html(_view(job), title), "text/html", "report.html")


@router.get("/whatif/{run_id}/kpis.csv")
@read_only
def kpis_file(run_id: str, session: SessionDep, service: ServiceDep, user: User) -> Response:
    """kpis.csv as the CLI writes it: a row per KPI key, a column per scenario, then the
    deltas against the baseline; the cost rows last."""
    who = need(user, Role.PLANNER)
    result = _finished(_read(session, service, who, run_id))
    done = [o for o in result.get("outcomes", []) if o.get("ok")]
    names = [o["name"] for o in done]
    base = next((o for o in done if o["name"] == "baseline"), None)
    flats = [
        flatten(o.get("kpis", {})) | flatten({"economy": result["economies"].get(o["name"], {})})
        for o in done
    ]
    base_flat = flats[names.index("baseline")] if base is not None else {}
    keys: list[str] = []
    for flat in flats:
        keys += [k for k in flat if k not in keys and not k.startswith("economy.monthly_costs")]
    others = [n for n in names if n != "baseline"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kpi", *names, *(f"{n} Δ" for n in others)])
    for key in keys:
        values = [flat.get(key) for flat in flats]
        deltas: list[float | str] = []
        for n, v in zip(names, values, strict=True):
            if n == "baseline":
                continue
            b = base_flat.get(key)
            if isinstance(v, int | float) and isinstance(b, int | float):
                deltas.append(round(v - b, 4))
            else:
                deltas.append("")
        writer.writerow([key, *("" if v is None else v for v in values), *deltas])
    return _download(buffer.getvalue(), "text/csv", "kpis.csv")


@router.get("/whatif/{run_id}/scenario.toml")
@read_only
def scenario_file(run_id: str, session: SessionDep, service: ServiceDep, user: User) -> Response:
    """The scenario file the run was made from (pasted, or built by the form)."""
    who = need(user, Role.PLANNER)
    job = _read(session, service, who, run_id)
    return _download(str((job.params or {}).get("scenario", "")), "text/plain", "scenario.toml")


ASSIGNMENT_COLUMNS = (
    "scenario",
    "child_id",
    "option_id",
    "kind",
    "tier",
    "km_to_school",
    "km_to_home",
)


@router.get("/whatif/{run_id}/assignments.csv")
@read_only
def assignments_file(run_id: str, session: SessionDep, service: ServiceDep, user: User) -> Response:
    """Every scenario's assignment in one file, a `scenario` column first."""
    who = need(user, Role.PLANNER)
    result = _finished(_read(session, service, who, run_id))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ASSIGNMENT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for o in result.get("outcomes", []):
        for row in o.get("assignments", []):
            writer.writerow(
                {"scenario": o["name"]} | {k: "" if v is None else v for k, v in row.items()}
            )
    return _download(buffer.getvalue(), "text/csv", "assignments.csv")
