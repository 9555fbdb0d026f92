"""`placement whatif`: check a scenario file, run its scenarios on an executor, write the report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo.gazetteer import default_gazetteer
from matcher.economy import assignment_economy, counts_economy, kind_rates
from matcher.policy import PolicyError, load_policy_set
from matcher.scenario import ScenarioError, ScenarioFile, apply_changes, check_scenario
from matcher.sweep import InlineExecutor, ScenarioJob, ScenarioOutcome, jobs_of, sweep
from models.dataset import load_dataset

__all__ = [
    "EngineError",
    "check",
    "economies",
    "executor",
    "outcome_dict",
    "render_summary",
    "run",
]


class EngineError(RuntimeError):
    """The executor asked for cannot be had (Dask not installed, scheduler unreachable)."""


def geodata_dir(geodata: Path | None) -> str | None:
    chosen = geodata or os.environ.get("PLACEMENT_GEODATA_DIR")
    return str(Path(chosen).resolve()) if chosen else None


def check(spec: ScenarioFile, geodata: str | None) -> None:
    """Everything that can be checked before any solve: the base dataset, the ids each
    change names, and each scenario's policy settings. Raises ScenarioError (all issues)."""
    base = load_dataset(spec.base, default_gazetteer(geodata))
    issues: list[str] = []
    for scenario in spec.scenarios:
        check_scenario(base, scenario, issues)
        try:
            load_policy_set(scenario.policy, scenario.policy_overrides)
        except PolicyError as exc:
            issues.append(f"{spec.path}: scenario '{scenario.name}', policy: {exc}")
    if issues:
        raise ScenarioError(issues)


@contextmanager
def executor(engine: str, workers: int, scheduler: str | None = None) -> Iterator[Executor]:
    """A local process pool (inline for one worker) or a Dask cluster's executor."""
    if engine == "local":
        if workers == 1:
            yield InlineExecutor()
            return
        # spawn: OR-Tools and the solver threads of this process are not fork-safe.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            yield pool
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EngineError(
            "--engine dask needs Dask: pip install 'placement[dask]' (dask[distributed])"
        ) from None
    cluster: Any = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            )
            client = Client(cluster)
    except OSError as exc:
        raise EngineError(
            f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})"
        ) from None
    try:
        with client.get_executor(pure=False) as pool:
            yield pool
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(
    spec: ScenarioFile,
    geodata: str | None,
    pool: Executor,
    console: Console | None = None,
) -> list[ScenarioOutcome]:
    """Every scenario's outcome, with a live progress display on `console`."""
    jobs: list[ScenarioJob] = jobs_of(spec, geodata)
    if console is None:
        return sweep(jobs, pool)
    columns = (
        TextColumn("{task.description:<24}"),
        TextColumn("{task.fields[stage]:<8}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, TaskID] = {
            j.scenario.name: progress.add_task(
                j.scenario.name, total=1, stage="queued", start=False
            )
            for j in jobs
        }

        def update(name: str, stage: str, _: float) -> None:
            task = tasks[name]
            if stage == "solving":
                progress.start_task(task)
            if stage in ("done", "failed"):
                progress.start_task(task)
                progress.update(task, completed=1, stage=stage)
                progress.stop_task(task)
            else:
                progress.update(task, stage=stage)

        return sweep(jobs, pool, update)


def _pct(value: Any) -> str:
    return "" if value is None else f"{value:.1%}"


def render_summary(outcomes: list[ScenarioOutcome], console: Console) -> None:
    table = Table(title="What-if summary (Δ placed vs baseline)")
    for name in (
        "scenario",
        "status",
        "placed",
        "Δ placed",
        "network",
        "foster",
        "combination",
        "institution",
        "km school mean",
        "gap",
        "s",
    ):
        table.add_column(name, justify="left" if name in ("scenario", "status") else "right")
    base = next((o for o in outcomes if o.name == "baseline" and o.ok), None)
    for o in outcomes:
        if not o.ok:
            table.add_row(o.name, "[red]FAILED[/]", *[""] * 8, f"{o.seconds.get('job', 0):.1f}")
            continue
        k = o.kpis
        share = k["share_by_kind"]
        delta = "" if base is None else f"{k['placed'] - base.kpis['placed']:+d}"
        mean = k["km_to_school"]["mean"]
        table.add_row(
            o.name,
            o.status or "",
            str(k["placed"]),
            delta,
            _pct(share["network"]),
            _pct(share["foster"]),
            _pct(share["combination"]),
            _pct(share["institution"]),
            "" if mean is None else f"{mean:.1f}",
            "" if o.gap is None else f"{o.gap:.3%}",
            f"{o.seconds.get('job', 0):.1f}",
        )
    console.print(table)
    for o in outcomes:
        if not o.ok:
            console.print(f"[red]{o.name}[/]: {o.error}", highlight=False, markup=False)


def outcome_dict(o: ScenarioOutcome) -> dict[str, Any]:
    """An outcome with everything the report shows (assignments and unassigned included)."""
    return o.as_dict() | {
        "description": o.description,
        "assignments": o.assignments,
        "unassigned": o.unassigned,
    }


def economies(
    spec: ScenarioFile, outcomes: list[ScenarioOutcome], geodata: str | None
) -> dict[str, dict[str, Any]]:
    """Each finished scenario's cost (matcher.economy) and, when simulated, the cost of each
    month's active placements (`monthly_costs`, at the kinds' mean rates). The scenario's
    changes are applied again (they are seeded, so the dataset is the one it was solved on):
    cost is computed from the assignment after the solve, never inside it."""
    base = load_dataset(spec.base, default_gazetteer(geodata))
    by_name = {s.name: s for s in spec.scenarios}
    out: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        scenario = by_name.get(o.name)
        if not o.ok or scenario is None:
            continue
        dataset = apply_changes(base, scenario, spec.seed, spec.as_of)
        policies = load_policy_set(scenario.policy, scenario.policy_overrides)
        economy = assignment_economy(dataset, policies, o.assignments).as_dict()
        if o.trajectory:
            rates = kind_rates(dataset, policies)
            economy["monthly_costs"] = [
                counts_economy(m["active_by_kind"], rates).monthly for m in o.trajectory
            ]
            economy["kind_rates"] = rates
        out[o.name] = economy
    return out
