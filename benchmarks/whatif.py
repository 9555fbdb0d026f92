"""What-if sweeps at national scale: serial vs 2 local worker processes vs a local Dask cluster.

Twenty scenarios (the baseline and 19 changes: recruiting, closing, pausing, limits, cohorts)
run three ways on the same base dataset; every way must give the same assignments. The
overhead per scenario is the worker time not spent in the solver: reading the base (once
per worker process), applying the changes, building the tables, moving the job and its result.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from api.reports.whatif import executor
from benchmarks.common import console, print_table
from geo.gazetteer import default_gazetteer
from matcher.scenario import load_scenarios
from matcher.sweep import REUSE_ENV, ScenarioOutcome, forget_kept, jobs_of, sweep
from models.dataset import write_dataset
from models.synthetic import SyntheticSpec, generate_dataset

__all__ = ["run"]

_PLAN = """
base = "base"
as_of = "2026-11-01"
seed = 1
solver = "auto"
time_limit = 60

[[scenario]]
name = "recruit-north-20"
  [[scenario.change]]
  type = "add_families"
  count = 20
  level = "forstaerket"
  places = {{ "1" = 0.5, "2" = 0.5 }}
  kommuner = {north}

[[scenario]]
name = "recruit-all-100"
  [[scenario.change]]
  type = "add_families"
  count = 100
  level = "almen"
  places = 2

[[scenario]]
name = "recruit-specialised-30"
  [[scenario.change]]
  type = "add_families"
  count = 30
  level = "specialiseret"

[[scenario]]
name = "close-3-institutions"
  [[scenario.change]]
  type = "close_institution"
  ids = {closed}

[[scenario]]
name = "no-opholdssteder"
  [[scenario.change]]
  type = "remove"
  kind = "opholdssted"

[[scenario]]
name = "pause-specialised"
  [[scenario.change]]
  type = "pause"
  kind = "foster"
  levels = ["specialiseret"]

[[scenario]]
name = "almen-plus-one"
  [[scenario.change]]
  type = "set_places"
  kind = "foster"
  levels = ["almen"]
  delta = 1

[[scenario]]
name = "institutions-minus-one"
  [[scenario.change]]
  type = "set_places"
  kind = "institution"
  delta = -1

[[scenario]]
name = "foster-limit-40"
policy = {{ limits_km = {{ foster = 40.0 }} }}

[[scenario]]
name = "foster-limit-120"
policy = {{ limits_km = {{ foster = 120.0 }} }}

[[scenario]]
name = "institution-limit-100"
policy = {{ limits_km = {{ institution = 100.0 }} }}

[[scenario]]
name = "commute-15"
policy = {{ combination = {{ max_commute_km = 15.0 }} }}

[[scenario]]
name = "school-weight-x2"
policy = {{ weights = {{ foster = {{ school_km = 2.0 }} }} }}

[[scenario]]
name = "home-weight-x2"
policy = {{ weights = {{ foster = {{ home_km = 0.6 }}, institution = {{ home_km = 1.0 }} }} }}

[[scenario]]
name = "teenagers"
cohort = {{ min_age = 13, max_age = 17 }}

[[scenario]]
name = "under-seven"
cohort = {{ min_age = 0, max_age = 6 }}

[[scenario]]
name = "support-3-4"
cohort = {{ support_levels = [3, 4] }}

[[scenario]]
name = "north-cohort"
cohort = {{ kommuner = {north} }}

[[scenario]]
name = "recruit-and-close"
  [[scenario.change]]
  type = "add_families"
  count = 40
  level = "forstaerket"
  places = 1
  [[scenario.change]]
  type = "close_institution"
  ids = {closed}
"""


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def _overhead(o: ScenarioOutcome) -> float:
    return o.seconds.get("job", 0.0) - o.seconds.get("solve", 0.0)


def _print_per_scenario(cold: list[ScenarioOutcome], warm: list[ScenarioOutcome]) -> None:
    """Each scenario's in-job overhead, serial: every table and edge built for the job (the
    baseline) against tables and edges kept from earlier scenarios."""
    rows = []
    for c, w in zip(cold, warm, strict=True):
        before, after = _overhead(c), _overhead(w)
        rows.append(
            [
                c.name,
                f"{before:.2f}",
                f"{after:.2f}",
                f"{before / max(after, 1e-3):.1f}x",
                "yes" if (c.assignments, c.kpis) == (w.assignments, w.kpis) else "NO",
            ]
        )
    print_table(
        "In-job overhead per scenario, serial (baseline: tables and edges built per job)",
        ["scenario", "built per job s", "reused s", "ratio", "same outcome"],
        rows,
    )


def _same(a: list[ScenarioOutcome], b: list[ScenarioOutcome]) -> bool:
    return [(o.name, o.ok, o.assignments) for o in a] == [(o.name, o.ok, o.assignments) for o in b]


def run(quick: bool = False) -> None:
    scale = 10 if quick else 1
    spec_data = SyntheticSpec(3400 // scale, 5300 // scale, 700 // scale, 1)
    gaz = default_gazetteer()
    schools = gaz.schools.frame
    schools = schools[schools["kommune_code"].astype(str).map(gaz.has_kommune)]
    dataset = generate_dataset(spec_data, schools)
    north = sorted({f.kommune_code for f in dataset.families if f.place.lat > 56.9})[:6]
    closed = [i.institution_id for i in dataset.institutions[:3]]
    geodata = os.environ.get("PLACEMENT_GEODATA_DIR")
    with tempfile.TemporaryDirectory(prefix="whatif-bench-") as tmp:
        root = Path(tmp)
        write_dataset(dataset, root / "base")
        plan = root / "plan.toml"
        plan.write_text(
            _PLAN.format(north=_toml_list(north), closed=_toml_list(closed)), encoding="utf-8"
        )
        spec = load_scenarios(plan)
        jobs = jobs_of(spec, geodata)
        console.print(
            f"{len(jobs)} scenarios on {len(dataset.children):,} children, "
            f"{len(dataset.families):,} families, {len(dataset.institutions):,} institutions"
        )
        runs: list[tuple[str, int, float, list[ScenarioOutcome]]] = []
        for mode, engine, workers, reuse in (
            ("serial, tables built per job (baseline)", "local", 1, "0"),
            ("serial (in process)", "local", 1, "1"),
            ("local pool", "local", 2, "1"),
            ("Dask LocalCluster", "dask", 2, "1"),
        ):
            os.environ[REUSE_ENV] = reuse  # read in the job, so worker processes see it too
            forget_kept()
            with executor(engine, workers) as pool:
                start = time.perf_counter()
                outcomes = sweep(jobs, pool)
                wall = time.perf_counter() - start
            failed = [o.name for o in outcomes if not o.ok]
            if failed:
                console.print(f"[red]{mode}: failed {failed}: {outcomes[0].error}[/]")
            runs.append((mode, workers, wall, outcomes))
            console.print(f"{mode}: {wall:.1f} s")

    serial_wall = runs[0][2]
    rows = []
    for mode, workers, wall, outcomes in runs:
        solve = sum(o.seconds.get("solve", 0.0) for o in outcomes)
        job = sum(o.seconds.get("job", 0.0) for o in outcomes)
        n = len(outcomes)
        rows.append(
            [
                mode,
                str(workers),
                f"{wall:.1f}",
                f"{serial_wall / wall:.2f}x",
                f"{solve:.1f}",
                f"{(wall * workers - solve) / n:.2f}",
                f"{(job - solve) / n:.2f}",
                "yes" if _same(outcomes, runs[0][3]) else "NO",
            ]
        )
    print_table(
        f"What-if sweep, {len(runs[0][3])} scenarios (baseline: serial in one process)",
        [
            "engine",
            "workers",
            "wall s",
            "speed-up",
            "Σ solve s",
            "overhead/scenario s",
            "in-job overhead/scenario s",
            "same as serial",
        ],
        rows,
    )
    _print_per_scenario(runs[0][3], runs[1][3])
    statuses = sorted({o.status or "FAILED" for o in runs[0][3]})
    console.print(
        "overhead/scenario = (wall x workers - Σ solve) / scenarios: every worker-second not in "
        "the solver; in-job = reading the base (once per process), applying the changes, "
        f"building tables and KPIs. Solver statuses: {', '.join(statuses)}. Every run but the "
        "baseline reuses the tables of scenarios without changes and the edges of earlier "
        "scenarios to homes they left alone (matcher/sweep.py); "
        "'same as serial' compares each run with the baseline's cold outcomes."
    )
