"""Issue 18, batch half: sibling groups kept together as an objective level, the split mode
that splits a group only where that places more children, the sibling KPIs, and the batch
explanations (`cost_if_forced` against an independent MILP re-solve)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.batch import (
    AFTER_TIERS,
    LEVELS,
    OPTIMAL,
    build_problem,
    explain,
    first_choice,
    solve,
    solve_cpsat,
)
from matcher.cohort import run_match
from matcher.rank import Matcher
from tests.factories import AS_OF, at, child, dataset, family
from tests.matcher.test_batch import tiny
from tests.oracles.batch_checker import check_batch
from tests.oracles.batch_optimum import brute_force, key_of, milp_optimum, split_optimum

_LEVEL_INDEX = {"placed": 1, "together": 2, "tier1": 3, "tier2": 4, "tier3": 5, "score": 6}


def _small(problem) -> bool:
    sizes = [1 + int(np.sum(problem.e_unit == u)) for u in range(problem.n_units)]
    return float(np.prod(sizes, dtype=float)) < 20_000


# ------------------------------------------------------------------ the objective level


def test_a_group_kept_together_beats_two_singles_at_equal_children_placed() -> None:
    """Two places at one home: the group of two (one group together) wins over two single
    children, though the singles' scores are better; both place two children."""
    home = family("f1", places=2, place=at(1), max_siblings=2)
    kids = [
        child("s1", home=at(0.5), school=at(0.5)),
        child("s2", home=at(0.5), school=at(0.5)),
        child("g1", sibling_group="g", home=at(20), school=at(20)),
        child("g2", sibling_group="g", home=at(20), school=at(20)),
    ]
    m = Matcher(dataset(kids, families=[home]))
    result = run_match(m, as_of=AS_OF, solver="cpsat").as_dict()
    assert result["status"] == OPTIMAL
    assert {a["child_id"] for a in result["assignments"]} == {"g1", "g2"}
    assert result["objective"]["together"] == 1
    assert result["kpis"]["sibling_groups_together"] == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    children=st.integers(2, 7),
    families=st.integers(1, 5),
    after_tiers=st.booleans(),
)
def test_groups_solver_matches_brute_force_with_the_together_level(
    seed: int, children: int, families: int, after_tiers: bool
) -> None:
    ds = tiny(seed, children, families, 1, siblings=0.6)
    m = Matcher(ds)
    order = AFTER_TIERS if after_tiers else None
    problem = build_problem(m, m.units, AS_OF, together_after=order)
    assume(_small(problem))
    sol = solve_cpsat(problem, time_limit=20)
    assert sol.status == OPTIMAL
    assert key_of(problem, sol.chosen) == brute_force(problem)


@pytest.mark.parametrize("order", ["after_placed", "after_tiers"])
def test_groups_solver_matches_the_staged_milp(order: str) -> None:
    ds = tiny(4, 40, 40, 5, siblings=0.5)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF, together_after=order)
    sol = solve_cpsat(problem, time_limit=30)
    found = milp_optimum(problem)
    assert found is not None and sol.status == OPTIMAL
    assert key_of(problem, sol.chosen) == found[0]


def test_the_level_order_comes_from_the_policy() -> None:
    ds = tiny(4, 10, 10, 2, siblings=0.5)
    m = Matcher(ds)
    assert build_problem(m, m.units, AS_OF).together_after == m.policies.default.siblings_priority
    with pytest.raises(ValueError, match="after_placed or after_tiers"):
        build_problem(m, m.units, AS_OF, together_after="first")


# --------------------------------------------------------------------------- split mode


@pytest.mark.parametrize("seed", [3, 9, 17])
def test_split_mode_matches_the_two_phase_milp_and_keeps_the_kept_groups(seed: int) -> None:
    ds = tiny(seed, 40, 30, 4, siblings=0.5)
    m = Matcher(ds)
    whole = build_problem(m, m.units, AS_OF)
    problem = build_problem(m, m.units, AS_OF, allow_split=True)
    no_split = solve(whole, "cpsat", time_limit=30)
    split = solve(problem, "cpsat", time_limit=30)
    assert split.status == OPTIMAL and no_split.status == OPTIMAL
    expected, kept = split_optimum(problem)
    assert key_of(problem, split.chosen)[1:] == expected
    # Never fewer children placed than without splits, never fewer groups together, and
    # every group the no-split optimum keeps together is still together.
    assert split.objective.placed >= no_split.objective.placed
    assert split.objective.together >= no_split.objective.together
    together_before = {
        whole.units[u].sibling_group
        for u in np.flatnonzero(no_split.chosen >= 0)
        if whole.size[u] > 1
    }
    together_after = {
        problem.units[u].sibling_group
        for u in np.flatnonzero(split.chosen >= 0)
        if problem.size[u] > 1
    }
    assert len(together_before) == kept and together_before <= together_after


def test_split_mode_result_passes_the_independent_checker_and_counts_groups() -> None:
    ds = tiny(9, 40, 30, 4, siblings=0.5)
    m = Matcher(ds)
    result = run_match(m, as_of=AS_OF, time_limit=30, allow_sibling_split=True).as_dict()
    check_batch(
        ds, m.policies, result, {c.child_id for c in ds.children}, AS_OF, groups_together=False
    )
    k = result["kpis"]
    groups = k["sibling_groups"]
    assert groups["total"] == len(ds.sibling_groups)
    assert groups["together"] + groups["split"] + groups["unplaced"] == groups["total"]
    assert k["sibling_groups_split"] == groups["split"] > 0
    # The groups no home could take whole are the ones split; every other stays together.
    assert k["sibling_together_share_of_feasible"] == 1.0
    assert "greedy" not in " ".join(result["notes"])


def test_split_happens_only_where_it_places_more_children() -> None:
    """A group of two and a home with two places: kept together, even with splits allowed.
    A group of two and two homes with one place each: split, both placed."""
    kids = [
        child("a", sibling_group="g", home=at(1), school=at(1)),
        child("b", sibling_group="g", home=at(1), school=at(1)),
    ]
    two = dataset(kids, families=[family("f1", places=2, max_siblings=2, place=at(2))])
    result = run_match(Matcher(two), as_of=AS_OF, allow_sibling_split=True).as_dict()
    assert {a["option_id"] for a in result["assignments"]} == {"f1"}
    assert result["kpis"]["sibling_groups_together"] == 1
    ones = dataset(
        kids, families=[family("f1", places=1, place=at(2)), family("f2", places=1, place=at(3))]
    )
    result = run_match(Matcher(ones), as_of=AS_OF, allow_sibling_split=True).as_dict()
    assert result["objective"]["placed"] == 2
    assert result["kpis"]["sibling_groups_split"] == 1
    assert result["kpis"]["sibling_together_share_of_feasible"] is None  # no home for both


# ------------------------------------------------------------------------ explanations


def _check_explanations(problem, sol) -> int:
    base = key_of(problem, sol.chosen)
    rows = explain(problem, sol)
    for row in rows:
        f = next(
            e
            for e in np.flatnonzero(problem.e_option == row["first_choice"]["option_id"])
            if problem.e_tier[e] == row["first_choice"]["tier"]
            and row["child_id"] in problem.units[problem.e_unit[e]].child_ids
            and e == first_choice(problem, int(problem.e_unit[e]))
        )
        found = milp_optimum(problem, forced=int(f))
        if found is None:
            assert not row["feasible"] and row["cost_if_forced"] is None
            continue
        assert row["feasible"] and row["exact"]
        delta = row["cost_if_forced"]
        for name in LEVELS:
            want = found[0][_LEVEL_INDEX[name]] - base[_LEVEL_INDEX[name]]
            if name == "score":  # the oracle counts -hundredths, the explanation km-equivalents
                assert round(-delta[name] * 100) == want
            else:
                assert delta[name] == want
        # The forced solve can never be better than the optimum.
        assert found[0] <= base
    return len(rows)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(4, 14), families=st.integers(2, 6))
def test_cost_if_forced_matches_a_milp_re_solve(seed: int, children: int, families: int) -> None:
    ds = tiny(seed, children, families, 1, siblings=0.4)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    sol = solve(problem, "auto", time_limit=20)
    assert sol.status == OPTIMAL
    _check_explanations(problem, sol)


def test_cost_if_forced_under_competition_without_groups() -> None:
    ds = tiny(5, 30, 8, 1)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    sol = solve(problem, "flow")
    assert _check_explanations(problem, sol) > 0


def test_explanation_names_who_holds_the_first_choice() -> None:
    """Two children want the one nearby home; the one whose loss costs less is moved."""
    kids = [child("c1", home=at(1), school=at(1)), child("c2", home=at(1.5), school=at(1.5))]
    homes = [family("near", places=1, place=at(2)), family("far", places=1, place=at(30))]
    m = Matcher(dataset(kids, families=homes))
    result = run_match(m, as_of=AS_OF, explain_children=True).as_dict()
    (row,) = result["explanations"]
    other = {"c1", "c2"} - {row["child_id"]}
    assert row["first_choice"]["option_id"] == "near"
    assert row["assigned"]["option_id"] == "far"
    assert row["held_by"] == sorted(other)
    assert row["feasible"] and row["exact"]
    assert row["cost_if_forced"]["placed"] == 0 and row["cost_if_forced"]["score"] >= 0


# ---------------------------------------------------------------------------------- CLI


def test_cli_match_explain_and_split_json(small_dir) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    args = ["match", "--data", str(small_dir), "--format", "json", "--as-of", "2026-11-01"]
    result = CliRunner().invoke(app, [*args, "--explain", "--allow-sibling-split"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body["objective"]) == set(LEVELS)
    for key in (
        "sibling_groups_together",
        "sibling_groups_split",
        "sibling_groups_unplaced",
        "sibling_together_share_of_feasible",
    ):
        assert key in body["kpis"]
    assert isinstance(body["explanations"], list)
    assigned = {a["child_id"]: a for a in body["assignments"]}
    for row in body["explanations"]:
        assert {"first_choice", "held_by", "cost_if_forced", "feasible", "exact"} <= set(row)
        got = assigned.get(row["child_id"])
        first = row["first_choice"]
        assert got is None or (got["option_id"], got["kind"]) != (first["option_id"], first["kind"])
        assert set(row["held_by"]) <= set(assigned)
    table = CliRunner().invoke(app, [*args[:3], "--as-of", "2026-11-01", "--explain"])
    assert table.exit_code == 0 and "Why not the first choice" in table.stdout
