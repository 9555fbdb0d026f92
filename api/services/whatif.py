"""Planners' what-if runs in the service: a scenario file's text (as `placement whatif` reads
it, or built from the page's form) run against the service's current data as a background
job on the service's job runner.

- The base is always the service's data: the database exported as the dataset contract into
  a temporary directory for the job. A `base` in the text is ignored (a planner cannot name
  a directory on the server).
- Own kommuner: a cohort without kommuner gets the planner's; a cohort naming another
  kommune, or a child of another kommune, is refused.
- A run is stored in `batch_jobs` (the batch runner's table, so a restart marks it failed
  like a batch) under an id starting with "w"; its params hold the scenario text, so a run
  is also a saved scenario: it can be run again.
- Reading a run's report is audited like a batch (`whatif.read`, one row per child its
  assignments and unassigned name).
"""

from __future__ import annotations

import logging
import tempfile
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db.engine import session_scope
from api.db.orm import AuditEntry, BatchJob, ChildRow
from api.reports import whatif as runner
from api.services.audit import scope_detail
from api.services.caller import Principal
from api.services.data import export_dataset
from api.services.errors import Invalid, NotFound
from api.services.runtime import Service, now
from matcher.scenario import BASELINE, ScenarioError, parse_scenarios
from matcher.sweep import InlineExecutor, jobs_of, sweep
from models.dataset import write_dataset

__all__ = [
    "MAX_TEXT",
    "PREFIX",
    "ScenarioForm",
    "list_whatifs",
    "own_whatif",
    "read_whatif",
    "run_name",
    "start_whatif",
]

log = logging.getLogger("placement.service")
PREFIX = "w"  # what-if run ids: "w" + 32 hex digits; batch ids are dashed UUIDs
MAX_TEXT = 100_000
_BUDGET = "budget_monthly_dkk"  # [simulate] budget line: the page's, not the simulator's


_ID_LIST = r"^[A-Za-z0-9_.:\- ,;]*$"
_KOMMUNER = r"^[0-9 ,;]*$"


def _ids(value: str) -> list[str]:
    return [v for v in value.replace(";", ",").replace(" ", ",").split(",") if v]


def _toml(value: Any) -> str:
    """A value as TOML: texts quoted like JSON (a TOML basic string), lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch >= " " else " " for ch in text) + '"'


class ScenarioForm(BaseModel):
    """The what-if page's builder: one scenario against the baseline. Blank fields are left
    out; the text it makes is what the page's textarea would take (and is saved as such)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^/\\:*?\"<>|.][^/\\:*?\"<>|]*$")
    description: str = Field(default="", max_length=300)
    add_count: int | None = Field(default=None, ge=1, le=10_000)
    add_level: Literal["almen", "forstaerket", "specialiseret"] = "almen"
    add_places: int = Field(default=1, ge=1, le=10)
    add_kommuner: str = Field(default="", max_length=400, pattern=_KOMMUNER)
    pause_ids: str = Field(default="", max_length=2000, pattern=_ID_LIST)
    remove_ids: str = Field(default="", max_length=2000, pattern=_ID_LIST)
    close_ids: str = Field(default="", max_length=2000, pattern=_ID_LIST)
    set_ids: str = Field(default="", max_length=2000, pattern=_ID_LIST)
    set_places: int | None = Field(default=None, ge=0, le=500)
    foster_km: float | None = Field(default=None, gt=0, le=500)
    institution_km: float | None = Field(default=None, gt=0, le=1000)
    cohort_kommune: str = Field(default="", max_length=3, pattern=r"^[0-9]*$")
    min_age: int | None = Field(default=None, ge=0, le=17)
    max_age: int | None = Field(default=None, ge=0, le=17)
    solver: Literal["auto", "greedy"] = "auto"
    months: int | None = Field(default=None, ge=1, le=36)
    budget: float | None = Field(default=None, ge=0)

    def to_toml(self) -> str:
        lines = ["solver = " + _toml(self.solver), "time_limit = 30"]
        cohort: dict[str, Any] = {}
        if self.cohort_kommune:
            cohort["kommuner"] = [self.cohort_kommune]
        if self.min_age is not None:
            cohort["min_age"] = self.min_age
        if self.max_age is not None:
            cohort["max_age"] = self.max_age
        if cohort:
            lines += ["", "[cohort]", *(f"{k} = {_toml(v)}" for k, v in cohort.items())]
        if self.months:
            lines += ["", "[simulate]", f"months = {self.months}"]
            if self.budget is not None:
                lines.append(f"{_BUDGET} = {_toml(float(self.budget))}")
        lines += ["", "[[scenario]]", f"name = {_toml(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml(self.description)}")
        limits = {
            k: v
            for k, v in (("foster", self.foster_km), ("institution", self.institution_km))
            if v is not None
        }
        if limits:
            inner = ", ".join(f"{k} = {_toml(float(v))}" for k, v in limits.items())
            lines.append(f"policy = {{ limits_km = {{ {inner} }} }}")
        changes: list[list[str]] = []
        if self.add_count:
            change = [
                'type = "add_families"',
                f"count = {self.add_count}",
                f"level = {_toml(self.add_level)}",
                f"places = {self.add_places}",
            ]
            if _ids(self.add_kommuner):
                change.append(f"kommuner = {_toml(_ids(self.add_kommuner))}")
            changes.append(change)
        for kind, ids in (("pause", self.pause_ids), ("remove", self.remove_ids)):
            if _ids(ids):
                changes.append([f"type = {_toml(kind)}", f"ids = {_toml(_ids(ids))}"])
        if _ids(self.close_ids):
            changes.append(['type = "close_institution"', f"ids = {_toml(_ids(self.close_ids))}"])
        if _ids(self.set_ids) and self.set_places is not None:
            changes.append(
                [
                    'type = "set_places"',
                    f"ids = {_toml(_ids(self.set_ids))}",
                    f"places = {self.set_places}",
                ]
            )
        for change in changes:
            lines += ["  [[scenario.change]]", *(f"  {line}" for line in change)]
        return "\n".join(lines) + "\n"


def _parse(text: str, who: Principal) -> tuple[dict[str, Any], float | None, list[str]]:
    """The file's tables with the service's defaults filled in, its budget line and notes;
    Invalid listing every problem (field `scenario`)."""
    if len(text) > MAX_TEXT:
        raise Invalid(
            "the scenario text is too long",
            errors=[{"path": "scenario", "value": len(text), "allowed": f"≤ {MAX_TEXT} chars"}],
        )
    if not text.strip():
        raise Invalid(
            "the scenario text is empty",
            errors=[{"path": "scenario", "value": "", "allowed": "a scenario file (TOML)"}],
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(
            f"not valid TOML ({exc})",
            errors=[
                {
                    "path": "scenario",
                    "value": f"not valid TOML ({exc})",
                    "allowed": "a scenario file (TOML)",
                }
            ],
        ) from None
    notes = []
    if "base" in data:
        notes.append("base")
    data["base"] = "."
    budget: float | None = None
    simulate = data.get("simulate")
    if isinstance(simulate, dict) and _BUDGET in simulate:
        raw = simulate.pop(_BUDGET)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
            raise Invalid(
                f"[simulate] {_BUDGET}: got {raw!r}",
                errors=[{"path": f"simulate.{_BUDGET}", "value": raw, "allowed": "DKK ≥ 0"}],
            )
        budget = float(raw)
    cohort = data.setdefault("cohort", {})
    if isinstance(cohort, dict) and not cohort.get("kommuner"):
        cohort["kommuner"] = sorted(who.kommuner)
    return data, budget, notes


def _check_own(spec_data: Mapping[str, Any], who: Principal, path: Path) -> list[str]:
    """Scenario names and the kommuner of every cohort, refused outside the caller's."""
    try:
        spec = parse_scenarios(spec_data, path)
    except ScenarioError as exc:
        raise Invalid(
            f"{len(exc.issues)} problem(s) in the scenario",
            errors=[{"path": "scenario", "value": i, "allowed": ""} for i in exc.issues[:50]],
        ) from None
    outside = sorted({k for s in spec.scenarios for k in s.cohort.kommuner} - who.kommuner)
    if outside:
        raise Invalid(
            f"cohort kommuner {', '.join(outside)} are outside your kommuner",
            errors=[{"path": "cohort.kommuner", "value": outside, "allowed": sorted(who.kommuner)}],
        )
    return [s.name for s in spec.scenarios if s.name != BASELINE]


def run_name(job: BatchJob) -> str:
    """A run's name: its scenarios' names (the baseline alone when it has none)."""
    names: Sequence[str] = (job.params or {}).get("names") or ()
    return ", ".join(names) or BASELINE


def start_whatif(
    session: Session, service: Service, who: Principal, text: str, source: str = "text"
) -> BatchJob:
    """Check the text (Invalid naming every problem) and queue the run."""
    data, budget, notes = _parse(text, who)
    names = _check_own(data, who, Path("scenario.toml"))
    children = sorted(
        {str(c) for s in _as_list(data.get("scenario")) for c in _cohort_children(s)}
        | set(_cohort_children(data))
    )
    if children:
        known = dict(
            session.execute(
                select(ChildRow.child_id, ChildRow.kommune_code).where(
                    ChildRow.child_id.in_(children)
                )
            ).all()
        )
        missing = [c for c in children if known.get(c) not in who.kommuner]
        if missing:
            raise Invalid(
                "unknown children in the cohort",
                errors=[
                    {
                        "path": "cohort.children",
                        "value": missing[:20],
                        "allowed": "child ids in your kommuner",
                    }
                ],
            )
    kommuner = sorted(who.kommuner)
    job = BatchJob(
        id=PREFIX + uuid.uuid4().hex,
        status="queued",
        stage="queued",
        progress=0.0,
        params={
            "kind": "whatif",
            "scenario": text,
            "names": names,
            "budget": budget,
            "notes": notes,
            "source": source,
        },
        created_by=who.key_id,
        kommuner=";".join(kommuner),
        created_at=now(),
    )
    session.add(job)
    service.audit(session, who, "whatif.create", None, scope_detail(kommuner, f"whatif={job.id}"))
    session.commit()
    service.jobs.submit(run_whatif, service, job.id, who)
    return job


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _cohort_children(table: Any) -> list[str]:
    cohort = table.get("cohort") if isinstance(table, Mapping) else None
    children = cohort.get("children") if isinstance(cohort, Mapping) else None
    return [str(c) for c in children] if isinstance(children, list) else []


def _set(service: Service, job_id: str, **values: Any) -> None:
    with session_scope(service.sessions) as session:
        session.execute(update(BatchJob).where(BatchJob.id == job_id).values(**values))


def run_whatif(service: Service, job_id: str, who: Principal) -> None:
    """The job: export the service's data, run every scenario, store outcomes and costs."""
    try:
        _set(service, job_id, status="running", stage="loading", progress=0.05)
        with session_scope(service.sessions) as session:
            params = dict(session.get_one(BatchJob, job_id).params)
            dataset = export_dataset(session)
        with tempfile.TemporaryDirectory(prefix="placement-whatif-") as tmp:
            base = Path(tmp)
            write_dataset(dataset, base)
            data, _, _ = _parse(params["scenario"], who)
            spec = parse_scenarios(data, base / "scenario.toml")
            geodata = runner.geodata_dir(None)
            _set(service, job_id, stage="checking", progress=0.1)
            runner.check(spec, geodata)
            total = len(spec.scenarios)
            finished: list[str] = []

            def progress(name: str, stage: str, _: float) -> None:
                if stage in ("done", "failed"):
                    finished.append(name)
                    _set(
                        service,
                        job_id,
                        stage="solving",
                        progress=round(0.1 + 0.8 * len(finished) / total, 3),
                    )

            _set(service, job_id, stage="solving", progress=0.15)
            outcomes = sweep(jobs_of(spec, geodata), InlineExecutor(), progress)
            _set(service, job_id, stage="reporting", progress=0.92)
            costs = runner.economies(spec, outcomes, geodata)
        result = {
            "outcomes": [runner.outcome_dict(o) for o in outcomes],
            "economies": costs,
            "as_of": spec.as_of.isoformat(),
        }
        _set(
            service,
            job_id,
            status="done",
            stage="done",
            progress=1.0,
            result=result,
            finished_at=now(),
        )
    except ScenarioError as exc:
        _set(
            service,
            job_id,
            status="failed",
            stage="failed",
            error="; ".join(exc.issues[:10])[:2000],
            finished_at=now(),
        )
    except Exception as exc:  # the job is marked failed, the server goes on
        log.error("what-if job failed", extra={"job": job_id, "error": type(exc).__name__})
        _set(
            service,
            job_id,
            status="failed",
            stage="failed",
            error=f"{type(exc).__name__}: {str(exc)[:500]}",
            finished_at=now(),
        )


def own_whatif(session: Session, who: Principal, job_id: str) -> BatchJob:
    """The run, or NotFound alike for a missing id, a batch, and a run of another planner's
    kommuner."""
    job = session.get(BatchJob, job_id) if job_id.startswith(PREFIX) else None
    if job is None or not set(job.kommuner.split(";")) <= who.kommuner:
        raise NotFound(f"no what-if run {job_id!r} in your kommuner")
    return job


def read_whatif(session: Session, service: Service, who: Principal, job_id: str) -> BatchJob:
    """The run with its outcomes, audited before it is returned."""
    job = own_whatif(session, who, job_id)
    children: list[str | None] = []
    for outcome in (job.result or {}).get("outcomes", []):
        for part in ("assignments", "unassigned"):
            children += [str(r["child_id"]) for r in outcome.get(part, []) if "child_id" in r]
    unique: list[str | None] = list(dict.fromkeys(children)) or [None]
    detail = f"whatif={job.id}"
    if unique == [None]:
        detail = scope_detail(job.kommuner.split(";"), f"{detail} status={job.status}")
    moment = now()
    service.audit_log.write(
        [
            AuditEntry(
                at=moment,
                key_id=who.key_id,
                role=who.role.value,
                action="whatif.read",
                child_id=child_id,
                detail=detail,
            )
            for child_id in unique
        ]
    )
    return job


def list_whatifs(session: Session, who: Principal, limit: int = 20) -> list[BatchJob]:
    """The caller's own newest what-if runs (their scenarios, to run again or compare)."""
    return list(
        session.scalars(
            select(BatchJob)
            .where(BatchJob.created_by == who.key_id, BatchJob.id.startswith(PREFIX))
            .order_by(BatchJob.created_at.desc())
            .limit(limit)
        )
    )
