"""Sweeps: the same outcomes inline, in a local process pool and on a Dask LocalCluster."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import distributed
import pytest

from matcher.scenario import (
    BASELINE,
    CloseInstitution,
    RemoveOptions,
    Scenario,
    ScenarioFile,
    Selector,
)
from matcher.sweep import InlineExecutor, ScenarioJob, ScenarioOutcome, jobs_of, run_scenario, sweep
from models.dataset import Dataset
from tests.conftest import geodata_dir

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def spec(small_dir: Path, small_dataset: Dataset) -> ScenarioFile:
    closed = small_dataset.institutions[0].institution_id
    scenarios = (
        Scenario(BASELINE),
        Scenario("no-foster", changes=(RemoveOptions(Selector(kind="foster")),)),
        Scenario("close", changes=(CloseInstitution((closed,)),), solver="cpsat"),
        Scenario("tight", policy_overrides={"distance": {"max_km": 30.0}}),
        Scenario("broken", changes=(CloseInstitution(("no-such-institution",)),)),
    )
    return ScenarioFile(small_dir / "plan.toml", small_dir, AS_OF, 11, scenarios)


@pytest.fixture(scope="module")
def jobs(spec: ScenarioFile) -> list[ScenarioJob]:
    return jobs_of(spec, geodata_dir())


@pytest.fixture(scope="module")
def inline(jobs: list[ScenarioJob]) -> list[ScenarioOutcome]:
    return sweep(jobs, InlineExecutor())


def comparable(outcomes: list[ScenarioOutcome]) -> list[tuple]:
    return [
        (o.name, o.ok, o.error, o.status, o.kpis, o.assignments, o.unassigned) for o in outcomes
    ]


def test_a_failed_scenario_is_reported_and_the_others_finish(
    inline: list[ScenarioOutcome],
) -> None:
    by_name = {o.name: o for o in inline}
    assert [o.name for o in inline] == [BASELINE, "no-foster", "close", "tight", "broken"]
    assert not by_name["broken"].ok
    assert "no-such-institution" in (by_name["broken"].error or "")
    assert all(o.ok for o in inline if o.name != "broken")


def test_changes_reach_the_solver(inline: list[ScenarioOutcome], small_dataset: Dataset) -> None:
    by_name = {o.name: o for o in inline}
    assert by_name[BASELINE].kpis["share_by_kind"]["foster"] > 0
    assert not [a for a in by_name["no-foster"].assignments if a["kind"] == "foster"]
    closed = small_dataset.institutions[0].institution_id
    assert closed not in {a["option_id"] for a in by_name["close"].assignments}
    for a in by_name["tight"].assignments:  # the maximum is measured from the home
        assert a["km_to_home"] <= 30.0 + 0.05
    assert by_name["tight"].kpis["placed"] <= by_name[BASELINE].kpis["placed"]


def test_baseline_equals_a_plain_match(
    inline: list[ScenarioOutcome], loaded_small: Dataset
) -> None:
    from matcher.cohort import run_match
    from matcher.rank import Matcher

    plain = run_match(Matcher(loaded_small), as_of=AS_OF)
    assert inline[0].assignments == plain.assignments
    assert inline[0].kpis == plain.kpis.as_dict()


def test_a_job_is_deterministic(jobs: list[ScenarioJob]) -> None:
    a, b = run_scenario(jobs[1]), run_scenario(jobs[1])
    assert comparable([a]) == comparable([b])


def test_local_process_pool_equals_inline(
    jobs: list[ScenarioJob], inline: list[ScenarioOutcome]
) -> None:
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        pooled = sweep(jobs, pool)
    assert comparable(pooled) == comparable(inline)


def test_dask_local_cluster_equals_local(
    jobs: list[ScenarioJob], inline: list[ScenarioOutcome]
) -> None:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen: list[tuple[str, str]] = []
        with client.get_executor(pure=False) as pool:
            on_dask = sweep(jobs, pool, lambda name, stage, _: seen.append((name, stage)))
    assert comparable(on_dask) == comparable(inline)
    assert ("broken", "failed") in seen and (BASELINE, "done") in seen
