"""Run what-if scenarios as independent jobs on any `concurrent.futures.Executor`.

A job carries everything it needs (the base dataset's directory, the geodata directory, the
scenario and the seed) and nothing of the process that made it, so a local process pool and
a Dask cluster run the same function and give the same answer. A worker process keeps the
base dataset it loaded, so only the first scenario on a worker pays for reading it.

It also keeps the matchers (option table, pools, units with their network tables) it built
for scenarios that change no record, keyed by the base and the policy: a cohort scenario, or a
second scenario with the baseline's policy, reuses them instead of building the same tables
again (a third of a national scenario's in-job overhead). Such a scenario's dataset equals the
base, and a matcher is only read by a match, so the result is the one a cold run gives
(tests/matcher/test_whatif_reuse.py).

It keeps the edges of the largest cohort it matched too, keyed by the base, the policy and the
date (`matcher.batch.EdgeMemo`): a later scenario, with changes or not, takes the kept edges of
every unit it shares to every home its changes left alone, and builds only the rest (the
problem is the cold build's, column for column). `REUSE_ENV=0` builds everything per job (the
baseline of `python -m benchmarks whatif`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from geo.gazetteer import default_gazetteer
from matcher.batch import EdgeMemo
from matcher.cohort import run_match
from matcher.heap import collector_paused
from matcher.policy import load_policy_set
from matcher.rank import Matcher
from matcher.scenario import Scenario, ScenarioError, ScenarioFile, apply_changes
from matcher.simulate import SimulationParams, simulate
from matcher.tables import Unit
from models.dataset import Dataset, load_dataset
from models.errors import DatasetError

__all__ = [
    "InlineExecutor",
    "ScenarioJob",
    "ScenarioOutcome",
    "forget_kept",
    "jobs_of",
    "run_scenario",
    "sweep",
]


@dataclass(frozen=True)
class ScenarioJob:
    scenario: Scenario
    base: str
    geodata: str | None
    as_of: date
    seed: int
    simulation: SimulationParams | None = None
    # The sweep the job belongs to (`jobs_of`): what a worker keeps for later scenarios is
    # kept for the same sweep first, so a long-lived process (the server, a Dask worker)
    # lets a finished sweep's tables and edges go before a running sweep's.
    sweep: str = ""


@dataclass
class ScenarioOutcome:
    name: str
    ok: bool
    error: str | None = None
    status: str | None = None
    solver: str | None = None
    gap: float | None = None
    objective: dict[str, Any] | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    unassigned: list[dict[str, Any]] = field(default_factory=list)
    # Seconds inside the job: reading the base (0 when the worker had it), applying the
    # changes and building the tables, solving, and the whole job.
    seconds: dict[str, float] = field(default_factory=dict)
    description: str = ""
    trajectory: list[dict[str, Any]] = field(default_factory=list)  # simulate's months

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "error": self.error,
            "status": self.status,
            "solver": self.solver,
            "gap": self.gap,
            "objective": self.objective,
            "kpis": self.kpis,
            "seconds": self.seconds,
            "trajectory": self.trajectory,
        }


@lru_cache(maxsize=4)
def _base_dataset(base: str, geodata: str | None) -> Dataset:
    return load_dataset(base, default_gazetteer(geodata))


REUSE_ENV = "PLACEMENT_WHATIF_REUSE"
_K = TypeVar("_K")
_V = TypeVar("_V")
_lock = threading.Lock()  # a thread pool may run jobs side by side


class _Kept(Generic[_K, _V]):
    """At most `size` values by key, each kept for a sweep. When full, a value kept for
    another sweep goes first (the one asked for least recently); then, of the sweep's own,
    the value asked for least often (of those, least recently), never the one just put: the
    baseline's policy serves most scenarios of a sweep, and a run of scenarios with policies
    of their own must not push it out. Used under `_lock`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[_K, _V] = OrderedDict()
        self._asked: dict[_K, int] = {}
        self._sweep: dict[_K, str] = {}

    def get(self, key: _K, sweep: str) -> _V | None:
        """The value kept for `key`, now kept for `sweep` (a later sweep may reuse it)."""
        found = self._values.get(key)
        if found is not None:
            self._values.move_to_end(key)
            self._asked[key] += 1
            self._sweep[key] = sweep
        return found

    def put(self, key: _K, value: _V, sweep: str) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        self._asked.setdefault(key, 1)
        self._sweep[key] = sweep
        while len(self._values) > self.size:
            others = [k for k in self._values if k != key]  # least recently asked first
            foreign = [k for k in others if self._sweep[k] != sweep]
            victim = foreign[0] if foreign else min(others, key=self._asked.__getitem__)
            del self._values[victim], self._asked[victim], self._sweep[victim]

    def clear(self) -> None:
        self._values.clear()
        self._asked.clear()
        self._sweep.clear()

    def __len__(self) -> int:
        return len(self._values)


# A national matcher is tens of MB; a national build's edges some 50 MB.
_matchers: _Kept[tuple[str, str | None, str, str], Matcher] = _Kept(4)
_edge_memos: _Kept[tuple[str, str | None, str, str, date], EdgeMemo] = _Kept(2)


def _reuse() -> bool:
    return os.environ.get(REUSE_ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def _matcher(job: ScenarioJob, dataset: Dataset) -> Matcher:
    """The scenario's matcher, built before if it can be (see the module docstring).

    Only a scenario without changes qualifies: its dataset is equal to the base (apply_changes
    then only re-checks it), so the tables built for an earlier such scenario with the same
    policy are the tables this one would build."""
    scenario = job.scenario
    policies = load_policy_set(scenario.policy, scenario.policy_overrides)
    if scenario.changes or not _reuse():
        return Matcher(dataset, policies)
    key = (job.base, job.geodata, *_policy_key(scenario))
    with _lock:
        found = _matchers.get(key, job.sweep)
    if found is not None:
        return found
    matcher = Matcher(dataset, policies)
    with _lock:
        _matchers.put(key, matcher, job.sweep)
    return matcher


def forget_kept() -> None:
    """Drop the matchers and edges kept for later scenarios (a benchmark's cold runs)."""
    with _lock:
        _matchers.clear()
        _edge_memos.clear()


def _policy_key(scenario: Scenario) -> tuple[str, str]:
    return scenario.policy, json.dumps(scenario.policy_overrides, sort_keys=True, default=str)


def _edge_memo(job: ScenarioJob) -> EdgeMemo | None:
    """The edges kept for the job's base, policy and date (None: reuse is off)."""
    if not _reuse():
        return None
    key = (job.base, job.geodata, *_policy_key(job.scenario), job.as_of)
    with _lock:
        memo = _edge_memos.get(key, job.sweep)
        if memo is None:
            memo = EdgeMemo()
            _edge_memos.put(key, memo, job.sweep)
        return memo


def _units(matcher: Matcher, scenario: Scenario) -> list[Unit]:
    """The cohort's units among those waiting for a place (named children even if placed)."""
    cohort = scenario.cohort
    ds = matcher.dataset
    placed = ds.active_placement
    return [
        u
        for u in matcher.units
        if any(
            cohort.admits(ds.child_by_id[c]) and (c not in placed or c in cohort.children)
            for c in u.child_ids
        )
    ]


def run_scenario(job: ScenarioJob) -> ScenarioOutcome:
    """One scenario from the base dataset to KPIs; never raises (a failure is an outcome)."""
    start = time.perf_counter()
    scenario = job.scenario
    try:
        cached = _base_dataset.cache_info().currsize
        with collector_paused():  # records and tables made in bulk (matcher.heap)
            base = _base_dataset(job.base, job.geodata)
            loaded = time.perf_counter()
            read = loaded - start if _base_dataset.cache_info().currsize > cached else 0.0
            dataset = apply_changes(base, scenario, job.seed, job.as_of)
            matcher = _matcher(job, dataset)
            policies = matcher.policies
            units = _units(matcher, scenario)
        built = time.perf_counter()
        result = run_match(
            matcher,
            units=units,
            solver=scenario.solver,
            time_limit=scenario.time_limit,
            as_of=job.as_of,
            allow_sibling_split=scenario.allow_sibling_split,
            deterministic=True,  # the same answer on whichever worker runs the job
            edge_memo=_edge_memo(job),
        )
        done = time.perf_counter()
        trajectory: list[dict[str, Any]] = []
        if job.simulation is not None:
            year = simulate(dataset, policies, job.as_of, job.simulation)
            trajectory = [month.as_dict() for month in year.months]
        simulated = time.perf_counter()
        s = result.solution
        return ScenarioOutcome(
            name=scenario.name,
            description=scenario.description,
            ok=True,
            status=s.status,
            solver=s.solver,
            gap=s.gap,
            objective=s.objective.as_dict(),
            kpis=result.kpis.as_dict(),
            assignments=result.assignments,
            unassigned=result.unassigned,
            trajectory=trajectory,
            seconds={
                "read": round(read, 3),
                "build": round(built - loaded, 3),
                "solve": round(s.seconds, 3),
                "match": round(done - built, 3),
                "simulate": round(simulated - done, 3),
                "job": round(simulated - start, 3),
            },
        )
    except (ScenarioError, DatasetError, ValueError, KeyError, OSError, RuntimeError) as exc:
        message = "; ".join(exc.issues[:5]) if isinstance(exc, ScenarioError) else str(exc)
        if isinstance(exc, DatasetError):
            message = "; ".join(str(i) for i in exc.issues[:5])
        return ScenarioOutcome(
            name=scenario.name,
            description=scenario.description,
            ok=False,
            error=f"{type(exc).__name__}: {message}",
            seconds={"job": round(time.perf_counter() - start, 3)},
        )


def jobs_of(spec: ScenarioFile, geodata: str | Path | None) -> list[ScenarioJob]:
    sweep = uuid.uuid4().hex
    return [
        ScenarioJob(
            s,
            str(spec.base),
            str(geodata) if geodata else None,
            spec.as_of,
            spec.seed,
            spec.simulation,
            sweep,
        )
        for s in spec.scenarios
    ]


class InlineExecutor(Executor):
    """Runs each job at submit, in this process: the serial baseline, and `--workers 1`."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller sees it through the future, as with a pool
            future.set_exception(exc)
        return future


Progress = Callable[[str, str, float], None]  # scenario, stage, seconds since the sweep began


def sweep(
    jobs: list[ScenarioJob], executor: Executor, progress: Progress | None = None
) -> list[ScenarioOutcome]:
    """Every job's outcome, in the order of `jobs`; one failing job does not stop the others."""
    start = time.perf_counter()

    def report(name: str, stage: str) -> None:
        if progress is not None:
            progress(name, stage, time.perf_counter() - start)

    futures: dict[Future[ScenarioOutcome], int] = {}
    for n, job in enumerate(jobs):
        report(job.scenario.name, "queued")
        futures[executor.submit(run_scenario, job)] = n
    outcomes: list[ScenarioOutcome | None] = [None] * len(jobs)
    running: set[int] = set()
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        for future in pending:
            n = futures[future]
            if n not in running and future.running():
                running.add(n)
                report(jobs[n].scenario.name, "solving")
        for future in done:
            n = futures[future]
            name = jobs[n].scenario.name
            try:
                outcome = future.result()
            except Exception as exc:  # a worker that died, or a job that could not be sent
                outcome = ScenarioOutcome(name=name, ok=False, error=f"{type(exc).__name__}: {exc}")
            outcomes[n] = outcome
            report(name, "done" if outcome.ok else "failed")
    return [o for o in outcomes if o is not None]
