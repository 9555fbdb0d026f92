"""The exact moves that finish a repair whose CP-SAT score stage ran out of time
(`matcher.batch._cpsat`): the single children re-placed by the flow with the groups fixed,
then the groups by CP-SAT with the singles fixed. Checked against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.batch import build_problem, solve_greedy
from matcher.batch._cpsat import _place_singles, _polish, _singles
from matcher.batch._solution import Clock
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny
from tests.oracles.batch_optimum import _feasible, brute_force, key_of


def _problem(seed: int, children: int, families: int):
    m = Matcher(tiny(seed, children, families, 1, siblings=0.5))
    return build_problem(m, m.units, AS_OF)


def _start(problem, seed: int) -> np.ndarray:
    """A feasible answer to improve on: the greedy one with some units taken out at random."""
    chosen = solve_greedy(problem).chosen.copy()
    drop = np.random.default_rng(seed).random(problem.n_units) < 0.4
    chosen[drop] = -1
    return chosen


def _small(problem) -> bool:
    sizes = [1 + int(np.sum(problem.e_unit == u)) for u in range(problem.n_units)]
    return float(np.prod(sizes, dtype=float)) < 20_000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(2, 8), families=st.integers(1, 5))
def test_the_singles_are_placed_optimally_around_fixed_groups(
    seed: int, children: int, families: int
) -> None:
    problem = _problem(seed, children, families)
    assume(_small(problem))
    start = _start(problem, seed)
    singles = _singles(problem)
    out = _place_singles(problem, start, singles)
    assert _feasible(problem, tuple(int(e) for e in out))
    assert np.array_equal(out[~singles], start[~singles])  # the groups did not move
    groups_fixed = {int(u): int(start[u]) for u in np.flatnonzero(~singles)}
    assert key_of(problem, out) == brute_force(problem, fixed=groups_fixed)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(2, 8), families=st.integers(1, 5))
def test_polish_is_never_worse_and_leaves_no_single_better_placed(
    seed: int, children: int, families: int
) -> None:
    problem = _problem(seed, children, families)
    assume(_small(problem))
    start = _start(problem, seed)
    out = _polish(problem, start, Clock(10.0), workers=1, seed=0)
    assert _feasible(problem, tuple(int(e) for e in out))
    assert key_of(problem, out) >= key_of(problem, start)
    groups_fixed = {int(u): int(out[u]) for u in np.flatnonzero(~_singles(problem))}
    assert key_of(problem, out) == brute_force(problem, fixed=groups_fixed)
