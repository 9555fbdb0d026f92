"""What-if scenarios that reuse the tables of an earlier scenario give exactly the outcome of a
cold run (every table built for the job alone)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from matcher import sweep as sweep_module
from matcher.scenario import (
    BASELINE,
    CloseInstitution,
    Cohort,
    Scenario,
    ScenarioFile,
)
from matcher.sweep import REUSE_ENV, InlineExecutor, ScenarioOutcome, jobs_of, sweep
from models.dataset import Dataset
from tests.conftest import geodata_dir

AS_OF = date(2026, 11, 1)


def _comparable(outcomes: list[ScenarioOutcome]) -> list[tuple]:
    return [
        (o.name, o.ok, o.error, o.status, o.objective, o.kpis, o.assignments, o.unassigned)
        for o in outcomes
    ]


@pytest.fixture(scope="module")
def spec(small_dir: Path, small_dataset: Dataset) -> ScenarioFile:
    closed = small_dataset.institutions[0].institution_id
    kommune = small_dataset.children[0].kommune_code
    tight = {"distance": {"max_km": 8.0}}
    scenarios = (
        Scenario(BASELINE),
        Scenario("young", cohort=Cohort(min_age=0, max_age=9)),
        Scenario("one-kommune", cohort=Cohort(kommuner=(kommune,))),
        Scenario("tight", policy_overrides=tight),
        Scenario("tight-young", policy_overrides=tight, cohort=Cohort(min_age=0, max_age=9)),
        Scenario("close", changes=(CloseInstitution((closed,)),)),
        Scenario("close-young", changes=(CloseInstitution((closed,)),), cohort=Cohort(max_age=9)),
        Scenario("baseline-again"),
    )
    return ScenarioFile(small_dir / "plan.toml", small_dir, AS_OF, 11, scenarios)


def test_reused_tables_give_the_cold_outcomes(
    spec: ScenarioFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = jobs_of(spec, geodata_dir())
    sweep_module.forget_kept()
    monkeypatch.setenv(REUSE_ENV, "1")
    warm = sweep(jobs, InlineExecutor())
    kept = len(sweep_module._matchers)
    monkeypatch.setenv(REUSE_ENV, "0")
    sweep_module.forget_kept()
    cold = sweep(jobs, InlineExecutor())
    assert all(o.ok for o in warm), [o.error for o in warm]
    # Two policies without changes: the baseline's and the tight one's (the rest reused them).
    assert kept == 2
    assert not sweep_module._matchers  # with reuse off nothing is kept
    assert _comparable(warm) == _comparable(cold)
    # The cohorts really differ, so equal outcomes are not equal by accident.
    by_name = {o.name: o for o in warm}
    assert by_name["young"].assignments != by_name[BASELINE].assignments
    assert by_name["tight"].kpis != by_name[BASELINE].kpis
    assert (
        _comparable([by_name["baseline-again"]])[0][1:] == _comparable([by_name[BASELINE]])[0][1:]
    )


def test_the_policy_most_asked_for_is_kept_through_a_run_of_others() -> None:
    kept = sweep_module._Kept[str, int](2)
    kept.put("baseline", 0, "sweep-1")
    for _ in range(3):  # scenarios with the baseline's policy
        assert kept.get("baseline", "sweep-1") == 0
    for k in range(1, 6):  # then scenarios with policies of their own, one after another
        assert kept.get(f"policy-{k}", "sweep-1") is None
        kept.put(f"policy-{k}", k, "sweep-1")
    assert len(kept) == 2
    assert kept.get("baseline", "sweep-1") == 0
    assert kept.get("policy-5", "sweep-1") == 5  # the one just put stays too
    assert kept.get("policy-4", "sweep-1") is None


def test_a_finished_sweep_gives_way_to_the_next() -> None:
    """A long-lived process: what the first sweep asked for most does not crowd out the
    second sweep's; what the second sweep reuses of the first's is its own then."""
    kept = sweep_module._Kept[str, int](2)
    kept.put("old-baseline", 0, "sweep-1")
    kept.put("shared", 9, "sweep-1")
    for _ in range(20):
        kept.get("old-baseline", "sweep-1")
    assert kept.get("shared", "sweep-2") == 9
    kept.put("new-policy", 2, "sweep-2")
    assert kept.get("old-baseline", "sweep-2") is None
    assert kept.get("shared", "sweep-2") == 9
    kept.put("newer-policy", 3, "sweep-2")
    assert kept.get("shared", "sweep-2") == 9  # asked for more often: the policy asked once goes
    assert kept.get("new-policy", "sweep-2") is None


def test_each_call_of_jobs_of_is_its_own_sweep(spec: ScenarioFile) -> None:
    first, second = jobs_of(spec, geodata_dir()), jobs_of(spec, geodata_dir())
    assert len({job.sweep for job in first}) == 1
    assert first[0].sweep != second[0].sweep
