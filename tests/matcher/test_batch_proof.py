"""The groups' proof (`matcher.batch._proof`) and the prices it cuts with
(`matcher.batch._flow.stage_prices`), checked against brute force on small cohorts: every
bound it gives holds for the true optimum, every answer it gives is feasible and no worse,
and an answer that meets its bound is the optimum."""

from __future__ import annotations

import itertools
from dataclasses import replace
from unittest.mock import patch

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.batch import _proof, build_problem, solve_greedy
from matcher.batch._answers import Answers
from matcher.batch._flow import stage_prices
from matcher.batch._groups import balanced_digits
from matcher.batch._problem import (
    BatchProblem,
    level_range,
    merge_levels,
    objective_levels,
    objective_of,
)
from matcher.batch._proof import (
    _FLOW_BUDGET,
    GroupProof,
    group_bound,
)
from matcher.batch._solution import Clock
from matcher.rank import Matcher
from matcher.tables import Unit
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny
from tests.matcher.test_batch_ahead import assert_same_in_a_fresh_process
from tests.oracles.batch_optimum import _feasible, brute_force, key_of


def _problem(seed: int, children: int, families: int, siblings: float):
    m = Matcher(tiny(seed, children, families, 1, siblings=siblings))
    return build_problem(m, m.units, AS_OF)


def _small(problem) -> bool:
    sizes = [1 + int(np.sum(problem.e_unit == u)) for u in range(problem.n_units)]
    return float(np.prod(sizes, dtype=float)) < 20_000


def _merged_and_score(problem, key: tuple[int, ...]) -> tuple[int, int]:
    """An oracle key (kept, placed, together, tiers..., -score) as the merged count cost and
    the score in hundredths, both to be minimised."""
    levels = objective_levels(problem)[:-1]
    weights = [1]
    for level in reversed(levels[1:]):
        weights.insert(0, weights[0] * (level_range(problem, level) + 1))
    _, placed, together, t1, t2, t3, minus_score = key
    # per-child level costs are -1 per child (placed, tiers) and -scale per group kept
    counts = [-placed, -together * problem.together_scale, -t1, -t2, -t3]
    return sum(w * c for w, c in zip(weights, counts, strict=True)), -minus_score


def _priced_levels(seed: int, children: int, families: int):
    """A small cohort without groups whose count levels merge into one cost, and its two
    stage costs (merged count, score)."""
    problem = _problem(seed, children, families, siblings=0.0)
    assume(problem.n_edges > 0 and _small(problem))
    count_cost = merge_levels(problem, objective_levels(problem)[:-1], 2**50)
    assume(len(count_cost) == 1)
    return problem, [count_cost[0], np.asarray(objective_levels(problem)[-1], np.int64)]


def _cuts(found, lost: np.ndarray) -> list[tuple[int, int]]:
    """The lexicographic cuts (count, score) of a pricing at `lost` places, one per score
    subgradient: the score stage's least prices hold on the face the count stage's largest
    define."""
    return [
        (found.values[0] + int(found.prices[0] @ lost), found.values[1] + int(price @ lost))
        for price in (found.prices[1], found.least_prices[1])
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    children=st.integers(2, 7),
    families=st.integers(1, 4),
    data=st.data(),
)
def test_the_prices_are_a_lexicographic_subgradient_of_the_optimum(
    seed: int, children: int, families: int, data
) -> None:
    """For any other free places, the optimum (brute force) is at least, lexicographically,
    the optimum at the first ones plus the prices times the places lost."""
    problem, costs = _priced_levels(seed, children, families)
    found = stage_prices(problem, costs)
    pools = problem.pools_used
    here = problem.pool_free[pools]
    assert (found.values[0], found.values[1]) == _merged_and_score(problem, brute_force(problem))
    there = np.array([data.draw(st.integers(0, int(f) + 1)) for f in here])
    free = problem.pool_free.copy()
    free[pools] = there
    moved = replace(problem, pool_free=free)
    count, cents = _merged_and_score(moved, brute_force(moved))
    for cut in _cuts(found, here - there):
        assert (count, cents) >= cut


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    children=st.integers(2, 7),
    families=st.integers(1, 4),
    data=st.data(),
)
def test_the_prices_halfway_are_a_lexicographic_subgradient_of_the_optimum(
    seed: int, children: int, families: int, data
) -> None:
    """Priced halfway between two vectors of free places (every child two, the places of
    both added up), the flow's values are twice the optimum there and its prices a
    lexicographic subgradient: for any whole free places, twice the optimum (brute force)
    is at least the values plus the prices times the doubled places lost."""
    problem, costs = _priced_levels(seed, children, families)
    pools = problem.pools_used
    top = [int(f) + 1 for f in problem.pool_free[pools]]
    a, b, there = (
        np.array([data.draw(st.integers(0, t)) for t in top], dtype=np.int64) for _ in range(3)
    )
    doubled_free = problem.pool_free.copy()
    doubled_free[pools] = a + b
    doubled = replace(problem, pool_free=doubled_free, size=2 * problem.size)
    found = stage_prices(doubled, costs)
    free = problem.pool_free.copy()
    free[pools] = there
    moved = replace(problem, pool_free=free)
    count, cents = _merged_and_score(moved, brute_force(moved))
    for cut in _cuts(found, a + b - 2 * there):
        assert (2 * count, 2 * cents) >= cut
    # Halfway between a vector and itself is that vector: twice its optimum.
    doubled_free[pools] = 2 * a
    twice = stage_prices(replace(doubled, pool_free=doubled_free), costs)
    free[pools] = a
    at_a = replace(problem, pool_free=free)
    assert (twice.values[0], twice.values[1]) == tuple(
        2 * v for v in _merged_and_score(at_a, brute_force(at_a))
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(2, 8), families=st.integers(1, 5))
def test_the_group_bound_holds_and_an_answer_that_meets_it_is_optimal(
    seed: int, children: int, families: int
) -> None:
    problem = _problem(seed, children, families, siblings=0.6)
    assume(_small(problem))
    proof = GroupProof.of(problem)
    assume(proof is not None)
    assert proof is not None
    # The proof's weights are those `merge_levels` merged the count levels with.
    nodes = problem.n_units + len(problem.pools_used) + 2
    (merged,) = merge_levels(problem, proof.count_levels, _FLOW_BUDGET // (nodes + 1))
    pairs = zip(proof.weights, proof.count_levels, strict=True)
    rebuilt = sum(w * np.asarray(c, np.int64) for w, c in pairs)
    assert np.array_equal(rebuilt, merged)
    start = solve_greedy(problem).chosen.copy()
    start[np.random.default_rng(seed).random(problem.n_units) < 0.3] = -1
    best, bound, _ = group_bound(proof, start, Clock(20.0), workers=1, seed=0)
    assert _feasible(problem, tuple(int(e) for e in best))
    assert key_of(problem, best) >= key_of(problem, start)
    optimum = brute_force(problem)
    assert key_of(problem, best) <= optimum
    assert bound is not None  # small models are solved in time
    assert optimum <= bound.key()
    if objective_of(problem, best).key() == bound.key():
        assert key_of(problem, best) == optimum


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(3, 8), families=st.integers(1, 5))
def test_the_polish_moves_the_groups_to_their_least_score_at_the_same_counts(
    seed: int, children: int, families: int
) -> None:
    """Against every placement of the groups around the same single children with the same
    totals of every count level: the polish finds the best score among them."""
    problem = _problem(seed, children, families, siblings=0.6)
    proof = GroupProof.of(problem)
    assume(proof is not None)
    assert proof is not None
    groups = [int(u) for u in proof.group_units]
    options = [[-1, *np.flatnonzero(problem.e_unit == u).tolist()] for u in groups]
    assume(float(np.prod([len(o) for o in options], dtype=float)) < 20_000)
    around = solve_greedy(problem).chosen  # the single children's places
    packings = []
    for combo in itertools.product(*options):
        candidate = around.copy()
        candidate[groups] = combo
        if _feasible(problem, tuple(int(e) for e in candidate)):
            packings.append(candidate)
    # The start: of the packings that count as one drawn at random, the one of most score.
    drawn = key_of(problem, packings[np.random.default_rng(seed).integers(len(packings))])
    start = min(
        (c for c in packings if key_of(problem, c)[:-1] == drawn[:-1]),
        key=lambda c: key_of(problem, c),
    )
    polished = proof.polish(start, Clock(20.0), workers=1, seed=0)
    assert _feasible(problem, tuple(int(e) for e in polished))
    singles = np.setdiff1d(np.arange(problem.n_units), groups)
    assert np.array_equal(polished[singles], start[singles])
    counts = key_of(problem, start)[:-1]
    best = max(key_of(problem, c) for c in packings if key_of(problem, c)[:-1] == counts)
    assert key_of(problem, polished)[:-1] == counts
    assert key_of(problem, polished) == best


_PROOF_PREAMBLE = """
import os
import numpy as np
from matcher.batch import build_problem, solve_greedy
from matcher.batch import _ahead, _answers, _proof
from matcher.batch._solution import Clock
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny

os.environ.pop("PLACEMENT_EDGE_WORKERS", None)
assert _ahead.may_fork()
m = Matcher(tiny({seed}, 60, 40, 4, siblings=0.5))
problem = build_problem(m, m.units, AS_OF)
plan = _proof.GroupProof.of(problem)
assert plan is not None
start = solve_greedy(problem).chosen
"""


def proof_script(seed: int, body: str) -> str:
    """A script for a fresh interpreter, where forking is allowed: the proof (`plan`) of a
    tiny cohort with groups (`problem`, seed `seed`) and its greedy answer (`start`), then
    `body`."""
    return _PROOF_PREAMBLE.format(seed=seed) + body


_PRICED_AHEAD = proof_script(
    11,
    """
groups = start[plan.group_units].copy()
groups[::2] = -1
answers = _answers.Answers(plan, start)
answers.ahead(groups)
assert groups.tobytes() in answers._ahead  # a child prices it
found = answers.evaluate(groups)
assert not answers._ahead
here = plan.singles_at(groups)
assert found.count == here.count and found.score == here.score
assert all(np.array_equal(a, b) for a, b in zip(found.arrays(), here.arrays(), strict=True))
assert found.flows.dtype == here.flows.dtype
answers.mid_ahead(groups, start[plan.group_units])  # halfway: priced in a child as well
assert len(answers._halfway) == 1
halfway = answers.mid_of(groups, start[plan.group_units])
here = plan.mid_prices(groups, start[plan.group_units])
assert all(np.array_equal(a, b) for a, b in zip(halfway.arrays(), here.arrays(), strict=True))
answers.ahead(start[plan.group_units])  # not needed after all: stopped and reaped
pid = next(iter(answers._ahead.values()))._pid
answers.stop_ahead()
try:
    os.waitpid(pid, os.WNOHANG)
    raise SystemExit("a child left behind")
except ChildProcessError:
    pass
print("same")
""",
)


def test_a_placement_priced_ahead_in_a_child_is_priced_as_here() -> None:
    """The groups' proof prices the count levels' placement in a forked child while the
    score level is solved, and halfway between two placements while the next is priced;
    each must be the very pricing worked out here. In a fresh
    interpreter: this one runs pytest-xdist's threads, where nothing is forked."""
    assert_same_in_a_fresh_process(_PRICED_AHEAD)


def test_without_a_time_limit_the_score_levels_own_placement_is_not_polished() -> None:
    """A run without a time limit asks for an answer soon: an answer whose groups are where
    the score level placed them is not polished last; with a time limit every answer is."""
    asked: list[bool] = []  # per last polish asked for: the answer's groups placed by score
    ended: list[bool] = []  # at the end: the answer's groups placed by score
    start_polish, polish_note = Answers.start_polish, Answers.polish_note

    def spy_start(self: Answers, clock: Clock, workers: int, seed: int, ahead: bool) -> None:
        if not ahead:
            asked.append(self.best_placed_by_score())
        start_polish(self, clock, workers, seed, ahead)

    def spy_end(self: Answers) -> list[str]:
        ended.append(self.best_placed_by_score())
        return polish_note(self)

    skipped = 0
    with (
        patch.object(Answers, "start_polish", spy_start),
        patch.object(Answers, "polish_note", spy_end),
    ):
        for seed in range(30):
            problem = _problem(seed, 8, 5, siblings=0.6)
            proof = GroupProof.of(problem)
            if proof is None or not _small(problem):
                continue
            start = solve_greedy(problem).chosen.copy()
            start[np.random.default_rng(seed).random(problem.n_units) < 0.5] = -1
            for limit in (None, 20.0):
                asked.clear()
                ended.clear()
                group_bound(proof, start, Clock(limit), workers=1, seed=0)
                if limit is not None:
                    assert len(asked) == 1
                elif asked:
                    assert asked == [False]
                else:  # none asked for: the answer is the score level's own placement
                    assert ended == [True]
                    skipped += 1
    assert skipped >= 3  # the path this test is about was taken


def test_rounds_that_reuse_proven_count_levels_keep_every_bound() -> None:
    """A round whose count prices are a proven round's skips the count levels' solve (the
    cut is exact at every count-optimal placement all the same), and so does a cut halfway
    between two rounds' placements. With no gap target, rounds go on until nothing
    changes, so small cohorts take these paths often; every bound they give must still hold
    for the true optimum."""
    reused = halfway = 0
    with patch.object(_proof, "GAP_TARGET", -1.0), patch.object(_proof, "GAP_PROGRESS", 0.0):
        for seed in range(40):
            problem = _problem(seed, 8, 5, siblings=0.6)
            proof = GroupProof.of(problem)
            if proof is None or not _small(problem):
                continue
            start = solve_greedy(problem).chosen.copy()
            start[np.random.default_rng(seed).random(problem.n_units) < 0.5] = -1
            best, bound, notes = group_bound(proof, start, Clock(20.0), workers=1, seed=0)
            optimum = brute_force(problem)
            assert bound is not None and optimum <= bound.key(), seed
            assert _feasible(problem, tuple(int(e) for e in best))
            assert key_of(problem, best) <= optimum
            reused += any("as in a round before" in n for n in notes)
            halfway += any("halfway" in n for n in notes)
    assert reused >= 5  # the path this test is about was taken
    assert halfway >= 3  # and the cuts halfway between two rounds' placements


def _unit(name: str, size: int) -> Unit:
    return Unit(
        name,
        tuple(f"{name}-{k}" for k in range(size)),
        "g" if size > 1 else None,
        "101",
        size,
        5,
        9,
        0,
        0,
        False,
        False,
        False,
        (55.7, 12.5),
        (),
        (),
        (),
        frozenset(),
        frozenset(),
        0,
    )


def _two_homes_of_three() -> BatchProblem:
    """Homes A and B with 3 free places each; a group of three may take either; two single
    children may take only A, two others only B. The relaxation sends one child of the
    group to each home beside the singles (6 placed); a packing places 5."""
    edges = [(0, 0), (0, 1), (1, 0), (2, 0), (3, 1), (4, 1)]  # (unit, home)
    n = len(edges)
    return BatchProblem(
        units=(_unit("g", 3), _unit("s1", 1), _unit("s2", 1), _unit("s3", 1), _unit("s4", 1)),
        size=np.array([3, 1, 1, 1, 1]),
        group=(None,) * 5,
        pool_free=np.array([3, 3]),
        e_unit=np.array([u for u, _ in edges]),
        e_pool=np.array([h for _, h in edges]),
        e_tier=np.ones(n, dtype=np.int8),
        e_cost=np.array([100, 200, 300, 300, 300, 300]),
        e_option=np.array(["A", "B", "A", "A", "B", "B"]),
        e_order=np.arange(n, dtype=np.int32),
    )


def test_a_group_the_relaxation_splits_is_proven_placed_as_well_as_it_can_be() -> None:
    from matcher.batch._cpsat import solve_cpsat
    from matcher.batch._flow import lexicographic_flow
    from matcher.batch._solution import relaxation_bound

    problem = _two_homes_of_three()
    flows, _ = lexicographic_flow(problem)
    assert relaxation_bound(problem, flows).placed == 6
    solution = solve_cpsat(problem, time_limit=20)
    assert solution.status == "OPTIMAL"
    assert any(n.startswith("group bound") for n in solution.notes)
    assert key_of(problem, solution.chosen) == brute_force(problem)
    assert solution.objective.placed == 5 and solution.objective.together == 1
    # The group goes to A, where it costs less; s3 and s4 keep B.
    assert problem.e_pool[solution.chosen[0]] == 0


@given(
    value=st.integers(-(2**60), 2**60),
    radices=st.lists(st.integers(2, 5000), min_size=1, max_size=4),
)
def test_balanced_digits_rebuild_the_value_with_the_least_digits(
    value: int, radices: list[int]
) -> None:
    weights = [1]
    for radix in radices:
        weights.insert(0, weights[0] * radix)
    digits = balanced_digits(np.array([value], dtype=np.int64), weights)
    assert sum(w * int(d[0]) for w, d in zip(weights, digits, strict=True)) == value
    for k in range(1, len(weights)):  # each digit after the first within half a radix
        assert abs(int(digits[k][0])) * 2 <= weights[k - 1] // weights[k]
