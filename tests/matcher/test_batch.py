"""Batch matching: feasibility (independent checker), optimality against brute force and
against a HiGHS MILP, edge cases, determinism, and the staged lexicographic flow."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.batch import (
    FEASIBLE,
    OPTIMAL,
    BatchProblem,
    _flow,
    build_problem,
    solve_cpsat,
    solve_flow,
    solve_greedy,
)
from matcher.batch._flow import _best_of_each_unit
from matcher.cohort import TAKEN_BY_OTHERS, run_match
from matcher.rank import Matcher
from models.dataset import Dataset
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF, at, child, dataset, family, institution
from tests.oracles.batch_checker import check_batch
from tests.oracles.batch_optimum import brute_force as oracle_brute_force
from tests.oracles.batch_optimum import key_of
from tests.oracles.batch_optimum import milp_optimum as oracle_milp


def _key(problem: BatchProblem, chosen: np.ndarray) -> tuple[int, ...]:
    """The lexicographic objective, computed by the independent oracle (larger is better)."""
    return key_of(problem, chosen)


def brute_force(problem: BatchProblem) -> tuple[int, ...]:
    best = oracle_brute_force(problem)
    assert best is not None
    return best


def milp_optimum(problem: BatchProblem) -> tuple[int, ...]:
    """Staged lexicographic MILP with HiGHS (scipy.optimize.milp), from tests/oracles."""
    found = oracle_milp(problem)
    assert found is not None
    return found[0]


def tiny(
    seed: int, children: int, families: int, institutions: int, siblings: float = 0.0
) -> Dataset:
    from geo.gazetteer import Gazetteer
    from tests.conftest import geodata_dir

    gaz = Gazetteer.from_directory(geodata_dir())
    schools = gaz.schools.frame
    schools = schools[schools["kommune_code"].isin(["751", "727"])]
    return generate_dataset(
        SyntheticSpec(children, families, institutions, seed, sibling_share=siblings), schools
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    children=st.integers(1, 6),
    families=st.integers(0, 6),
    institutions=st.integers(0, 2),
)
def test_flow_is_optimal_against_brute_force(seed, children, families, institutions) -> None:
    ds = tiny(seed, children, families, institutions)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    assume(np.prod([1 + np.sum(problem.e_unit == u) for u in range(problem.n_units)]) < 50_000)
    best = brute_force(problem)
    # budget 1: every level its own stage (the staged path); per_unit 0 and 1: the priced
    # flow starts from (almost) no edges and must price every needed one in.
    for budget, per_unit in itertools.product((None, 1), (24, 1, 0)):
        sol = solve_flow(problem, budget=budget, per_unit=per_unit)
        assert sol.status == OPTIMAL
        assert _key(problem, sol.chosen) == best
    assert _key(problem, solve_greedy(problem).chosen) <= best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(5, 40), families=st.integers(5, 40))
def test_batch_edges_are_the_rankings_eligible_options_and_scores(seed, children, families) -> None:
    """The batch path (`Matcher.edges`: distance-free rules first, no warnings) keeps
    exactly the options `evaluate` finds eligible, with the same scores. Nation-wide, so
    that some options are beyond the practical maximum and some near a keep-away address."""
    from geo.gazetteer import Gazetteer
    from tests.conftest import geodata_dir

    schools = Gazetteer.from_directory(geodata_dir()).schools.frame
    spec = SyntheticSpec(children, families, 4, seed, sibling_share=0.3)
    m = Matcher(generate_dataset(spec, schools))
    day = AS_OF.toordinal()
    for unit in m.units:
        for table in (unit.network, m.options):
            full = m.evaluate(unit, table, AS_OF)
            want = sorted(
                zip(
                    table.option_id[full.eligible],
                    table.tier[full.eligible],
                    full.score[full.eligible],
                    strict=True,
                )
            )
            sub, eligible, score = m.edges(unit, table, None, day, m.pools.free)
            got = sorted(zip(sub.option_id[eligible], sub.tier[eligible], score, strict=True))
            assert got == want


def test_best_of_each_unit_keeps_each_units_k_best_allowed_edges() -> None:
    e_unit = np.array([0, 0, 0, 1, 1, 2])
    order = np.array([2, 0, 1, 4, 3, 5])  # unit 0 prefers edge 2, then 0, then 1
    # Edge 2 (unit 0's favourite) and unit 2's only edge may not be used.
    allowed = np.array([True, True, False, True, True, False])
    assert _best_of_each_unit(order, e_unit, allowed, 1).tolist() == [0, 4]
    assert _best_of_each_unit(order, e_unit, allowed, 2).tolist() == [0, 1, 4, 3]
    assert _best_of_each_unit(order, e_unit, allowed, 0).tolist() == []


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=8),
    seed=st.integers(0, 10**6),
    dtype=st.sampled_from([np.int32, np.int64]),  # edge_preference is int32 below 2**31 edges
)
def test_best_of_each_unit_equals_a_loop_over_units(
    sizes: list[int], seed: int, dtype: type[np.integer]
) -> None:
    """Units without edges (their blocks empty, first or anywhere) and units with every edge
    forbidden keep nothing; the others their first k allowed edges in preference order."""
    rng = np.random.default_rng(seed)
    e_unit = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(sizes) - sizes
    order = np.concatenate(
        [s + rng.permutation(n) for s, n in zip(starts, sizes, strict=True)] + [np.zeros(0, int)]
    ).astype(dtype)
    allowed = rng.random(len(e_unit)) < 0.6
    for k in (0, 1, 2, 6):
        want = [
            e
            for s, n in zip(starts, sizes, strict=True)
            for e in [e for e in order[s : s + n] if allowed[e]][:k]
        ]
        assert _best_of_each_unit(order, e_unit, allowed, k).tolist() == want


def test_reduced_costs_by_slices_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of arcs give the same reduced costs as one pass over all of them; arcs past
    the level's edges cost nothing."""
    rng = np.random.default_rng(7)
    n_nodes, n_arcs, n_edges = 40, 300, 220
    tails = rng.integers(0, n_nodes, n_arcs).astype(np.int32)
    heads = rng.integers(0, n_nodes, n_arcs).astype(np.int32)
    level = rng.integers(-(2**40), 2**40, n_edges)
    dist = rng.integers(-(2**30), 2**30, n_nodes)
    arcs = np.sort(rng.choice(n_arcs, 250, replace=False))
    cost = np.where(arcs < n_edges, level[np.minimum(arcs, n_edges - 1)], 0)
    want = cost + dist[tails[arcs]] - dist[heads[arcs]]
    monkeypatch.setattr(_flow, "_SLICE", 7)
    assert _flow._reduced_costs(arcs, level, dist, tails, heads).tolist() == want.tolist()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(15, 40), families=st.integers(3, 15))
def test_priced_flow_matches_the_milp_under_competition(seed, children, families) -> None:
    """Too many children for brute force, few homes: starting from one edge per child, the
    pricing rounds must still reach the MILP's optimum."""
    ds = tiny(seed, children, families, 1)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    best = milp_optimum(problem)
    for budget in (None, 1):
        assert _key(problem, solve_flow(problem, budget=budget, per_unit=1).chosen) == best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(2, 7), families=st.integers(1, 6))
def test_cpsat_with_groups_is_optimal_against_brute_force(seed, children, families) -> None:
    ds = tiny(seed, children, families, 1, siblings=0.6)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    assume(np.prod([1 + np.sum(problem.e_unit == u) for u in range(problem.n_units)]) < 50_000)
    sol = solve_cpsat(problem, time_limit=20)
    assert sol.status == OPTIMAL
    assert _key(problem, sol.chosen) == brute_force(problem)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cpsat_with_groups_matches_the_milp(seed: int) -> None:
    ds = tiny(seed, 40, 45, 5, siblings=0.5)
    m = Matcher(ds)
    problem = build_problem(m, m.units, AS_OF)
    assert (problem.size > 1).any() and problem.n_edges > 50
    sol = solve_cpsat(problem, time_limit=30)
    assert sol.status == OPTIMAL
    assert _key(problem, sol.chosen) == milp_optimum(problem)


@pytest.mark.parametrize("solver", ["auto", "cpsat", "greedy"])
def test_every_result_passes_the_independent_checker(solver: str) -> None:
    ds = tiny(9, 60, 70, 8, siblings=0.3)
    m = Matcher(ds)
    result = run_match(m, solver=solver, as_of=AS_OF, time_limit=30).as_dict()
    check_batch(ds, m.policies, result, {c.child_id for c in ds.children}, AS_OF)


def test_flow_result_passes_the_checker_without_groups() -> None:
    ds = tiny(5, 60, 50, 6)
    m = Matcher(ds)
    result = run_match(m, solver="flow", as_of=AS_OF).as_dict()
    assert result["status"] == OPTIMAL
    check_batch(ds, m.policies, result, {c.child_id for c in ds.children}, AS_OF)


def test_split_mode_keeps_groups_when_it_can_and_passes_the_checker() -> None:
    ds = tiny(9, 40, 60, 8, siblings=0.5)
    m = Matcher(ds)
    together = run_match(m, solver="cpsat", as_of=AS_OF, time_limit=30).as_dict()
    split = run_match(
        m, solver="cpsat", as_of=AS_OF, time_limit=30, allow_sibling_split=True
    ).as_dict()
    check_batch(
        ds, m.policies, split, {c.child_id for c in ds.children}, AS_OF, groups_together=False
    )
    # Splitting can only place more children, never fewer.
    assert split["objective"]["placed"] >= together["objective"]["placed"]


def _counts(result: dict) -> tuple[int, ...]:
    return tuple(result["objective"][k] for k in ("placed", "tier1", "tier2", "tier3"))


def test_optimum_beats_or_equals_greedy() -> None:
    ds = tiny(21, 80, 60, 6, siblings=0.25)
    m = Matcher(ds)
    best = run_match(m, as_of=AS_OF, time_limit=30).as_dict()
    greedy = run_match(m, solver="greedy", as_of=AS_OF).as_dict()
    assert _counts(best) >= _counts(greedy)
    assert greedy["gap"] is None and greedy["status"] == FEASIBLE


def test_determinism() -> None:
    ds = tiny(33, 50, 50, 6, siblings=0.3)
    first = run_match(Matcher(ds), as_of=AS_OF, time_limit=30).as_dict()
    again = run_match(Matcher(ds), as_of=AS_OF, time_limit=30).as_dict()
    assert first["assignments"] == again["assignments"]
    assert first["objective"] == again["objective"]


# ---------------------------------------------------------------------------- edge cases


def test_no_children() -> None:
    ds = replace(dataset(families=[family()]), children=())
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert result["status"] == OPTIMAL and result["assignments"] == []
    assert result["kpis"]["placed_share"] is None


def test_no_capacity_at_all() -> None:
    ds = dataset([child("c1"), child("c2")], families=[family(places=1, occupied=1)])
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert result["objective"]["placed"] == 0
    assert {u["child_id"] for u in result["unassigned"]} == {"c1", "c2"}
    assert all(u["reasons"].get("NO_CAPACITY") for u in result["unassigned"])


def test_one_child() -> None:
    ds = dataset([child("c1")], families=[family("f1", place=at(2))])
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert [a["option_id"] for a in result["assignments"]] == ["f1"]


def test_all_children_ineligible_everywhere() -> None:
    ds = dataset(
        [child("c1", age=16), child("c2", age=15)],
        families=[family("f1", max_age=6)],
        institutions=[institution(max_age=10)],
    )
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert result["objective"]["placed"] == 0
    assert all("AGE_OUT_OF_RANGE" in u["reasons"] for u in result["unassigned"])


def test_group_larger_than_any_home() -> None:
    kids = [child(f"c{k}", sibling_group="g") for k in range(4)]
    ds = dataset(kids, families=[family("f1", places=3, max_siblings=3)])
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert result["objective"]["placed"] == 0
    assert len(result["unassigned"]) == 4
    assert result["kpis"]["sibling_groups"]["unplaced"] == 1


def test_competition_reports_places_taken_by_others() -> None:
    ds = dataset([child("c1"), child("c2")], families=[family("f1", place=at(1))])
    result = run_match(Matcher(ds), as_of=AS_OF).as_dict()
    assert result["objective"]["placed"] == 1
    assert result["unassigned"][0]["reasons"][TAKEN_BY_OTHERS] == 1


def test_cohort_selection_by_kommune_and_ids() -> None:
    ds = dataset(
        [child("c1", kommune_code="751"), child("c2", kommune_code="727")],
        families=[family("f1"), family("f2")],
    )
    only = run_match(Matcher(ds), kommuner=["727"], as_of=AS_OF).as_dict()
    assert {a["child_id"] for a in only["assignments"]} | {
        u["child_id"] for u in only["unassigned"]
    } == {"c2"}
    ids = run_match(Matcher(ds), children=["c1"], as_of=AS_OF).as_dict()
    assert [a["child_id"] for a in ids["assignments"]] == ["c1"]


_FORKED_EDGES = """
import os, sys
import numpy as np
from matcher.batch import _problem
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny

m = Matcher(tiny(11, 90, 60, 8, siblings=0.3))
units = tuple(m.units)
free = m.pools.free
parent = os.getpid()


collected = []


class Counted(_problem._EdgeBuilder):
    @staticmethod
    def _collect(child):
        found = _problem._EdgeBuilder._collect(child)
        collected.append(found is not None)
        return found


class ChildFails(Counted):
    def _slice(self, first, last):
        if os.getpid() != parent:
            raise RuntimeError("a child that fails")
        return super()._slice(first, last)


def columns(kind, workers):
    return kind(m, units, AS_OF, free, _problem._Offerable.of(m, free)).columns(workers)


one = columns(_problem._EdgeBuilder, 1)
assert len(one[0]) > 100, len(one[0])
for kind, workers, children_answered in ((Counted, 3, [True, True]), (ChildFails, 2, [False])):
    collected.clear()
    other = columns(kind, workers)
    assert collected == children_answered, (kind.__name__, collected)
    for a, b in zip(one, other, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b), (kind.__name__, workers)
called = []
builder = _problem._EdgeBuilder(m, units, AS_OF, free, _problem._Offerable.of(m, free))
builder.columns(1, lambda: called.append(1))
assert called == [], called  # nothing forked: nothing to do meanwhile
builder.columns(2, lambda: called.append(2))
assert called == [2], called
print("same")
"""


def test_edges_built_in_forked_processes_equal_those_built_in_one() -> None:
    """Slices of units built in forked children (or, where a child fails, here) give the
    very columns of one process, in the same order. In a fresh interpreter: a fork from
    this one, which runs pytest-xdist's threads, could inherit a lock held by one of them."""
    done = subprocess.run(
        [sys.executable, "-c", _FORKED_EDGES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


def test_edge_workers_fork_only_for_large_cohorts_and_when_asked(monkeypatch) -> None:
    from matcher.batch._problem import EDGE_WORKERS_ENV, PARALLEL_FROM_UNITS, edge_workers

    monkeypatch.setenv(EDGE_WORKERS_ENV, "1")
    assert edge_workers(10 * PARALLEL_FROM_UNITS) == 1
    assert edge_workers(PARALLEL_FROM_UNITS - 1) == 1
    monkeypatch.setenv(EDGE_WORKERS_ENV, "3")
    # pytest-xdist runs threads in this process: never a fork here, whatever is asked.
    threads = threading.active_count() > 1
    assert edge_workers(PARALLEL_FROM_UNITS) == (1 if threads else 3)


def test_option_info_reads_network_persons_as_the_units_tables_have_them() -> None:
    """`cohort._option_info` reads network persons from the dataset, not from each unit's
    network table; it must give what the tables give (a later unit's row winning)."""
    from matcher.cohort import _option_info
    from models.enums import InstitutionKind

    m = Matcher(tiny(4, 60, 30, 4, siblings=0.4))
    kinds = {x.value for x in InstitutionKind}
    rates = {i.institution_id: i.daily_rate for i in m.dataset.institutions}
    expected = {}
    for table in [m.options] + [u.network for u in m.units]:
        for k in range(len(table)):
            oid = str(table.option_id[k])
            expected[(oid, int(table.tier[k]))] = (
                float(table.lat[k]),
                float(table.lon[k]),
                str(table.kommune[k]),
                str(table.label[k]),
                rates.get(oid) if table.label[k] in kinds else None,
            )
    assert any(tier == 1 for _, tier in expected)
    assert _option_info(m) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), share=st.floats(0.0, 1.0), shuffled=st.booleans())
def test_a_subset_has_exactly_the_edges_of_its_units(
    seed: int, share: float, shuffled: bool
) -> None:
    """`subset` gathers a unit's edges as a range when the edges come unit by unit, and by a
    pass over all edges otherwise; both give the edges of the chosen units that fit the
    places, in the order of the whole problem."""
    m = Matcher(tiny(seed % 50, 30, 20, 3, siblings=0.3))
    problem = build_problem(m, m.units, AS_OF)
    rng = np.random.default_rng(seed)
    if shuffled:  # edges in any order: the range gathering must not be used
        order = rng.permutation(problem.n_edges)
        columns = ("e_unit", "e_pool", "e_tier", "e_cost", "e_option", "e_order")
        problem = replace(problem, **{c: getattr(problem, c)[order] for c in columns})
    units = np.flatnonzero(rng.random(problem.n_units) < share)
    units = rng.permutation(units)
    free = problem.pool_free - rng.integers(0, 2, len(problem.pool_free))
    sub, origin = problem.subset(units, free)
    chosen = np.isin(problem.e_unit, units) & (free[problem.e_pool] >= problem.size[problem.e_unit])
    assert np.array_equal(origin, np.flatnonzero(chosen))
    assert np.array_equal(units[sub.e_unit], problem.e_unit[origin])
    assert np.array_equal(sub.e_cost, problem.e_cost[origin])


def test_the_batch_package_loads_the_solvers_only_when_asked() -> None:
    """OR-Tools' CP-SAT module (0.5 s with pandas) and min-cost flow (60 ms) are loaded by a
    solve or `import_solvers`, which `run_match` calls while forked children build edges;
    not on import."""
    code = (
        "import sys\n"
        "import matcher.cohort, matcher.batch\n"
        "names = ('ortools.sat.python.cp_model', 'ortools.graph.python.min_cost_flow')\n"
        "before = [n in sys.modules for n in names]\n"
        "matcher.batch.import_solvers()\n"
        "print(*before, *[n in sys.modules for n in names])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True", "True"]
