"""Independent optima of a batch problem, for checking the solvers: brute force over every
assignment and a staged lexicographic MILP (HiGHS through scipy.optimize.milp). They read
only the problem's arrays and share no code with `matcher.batch`'s solvers.

The objective (issue 18), larger is better, lexicographically:
  (placed, together, tier1, tier2, tier3, -score)   with siblings.priority = after_placed
  (placed, tier1, tier2, tier3, together, -score)   with siblings.priority = after_tiers
placed and tierN count children, together counts sibling groups placed at one home (a
whole-group unit's edge), score is children x score in hundredths. Split mode: a child is
placed by at most one of the units covering it (its own, its group's); protected groups
placed whole come before everything ("kept").
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = ["brute_force", "key_of", "milp_optimum", "split_optimum"]


def _level_rows(problem: Any) -> list[np.ndarray]:
    """Per-edge contribution of each level, in the problem's order, larger is better."""
    size = problem.size[problem.e_unit].astype(float)
    tier = problem.e_tier
    together = (size > 1).astype(float)
    t = [size * (tier == k) for k in (1, 2, 3)]
    score = -size * problem.e_cost
    if problem.together_after == "after_tiers":
        levels = [size, *t, together, score]
    else:
        levels = [size, together, *t, score]
    kept = problem.protected[problem.e_unit].astype(float)
    return [kept, *levels]


def key_of(problem: Any, chosen: np.ndarray) -> tuple[int, ...]:
    """The objective of one edge per unit (-1: unplaced), as a tuple of whole numbers."""
    used = np.asarray([e for e in chosen if e >= 0], dtype=np.int64)
    return tuple(round(float(row[used].sum())) for row in _level_rows(problem))


def _covers(problem: Any) -> list[list[int]]:
    hub = set(int(p) for p in problem.parent if p >= 0)
    out = []
    for u in range(problem.n_units):
        if u in hub:
            continue
        p = int(problem.parent[u])
        out.append([u] if p < 0 else [u, p])
    return out


def _feasible(problem: Any, combo: tuple[int, ...]) -> bool:
    used: dict[int, int] = {}
    for u, e in enumerate(combo):
        if e >= 0:
            p = int(problem.e_pool[e])
            used[p] = used.get(p, 0) + int(problem.size[u])
    if any(n > problem.pool_free[p] for p, n in used.items()):
        return False
    return all(sum(combo[u] >= 0 for u in cover) <= 1 for cover in _covers(problem))


def brute_force(
    problem: Any, forced: int | None = None, fixed: dict[int, int] | None = None
) -> tuple[int, ...] | None:
    """The best objective over every assignment (None if none, e.g. `forced` impossible);
    `fixed` keeps some units on one edge each (-1: unplaced)."""
    options = [
        [-1] + [int(e) for e in np.flatnonzero(problem.e_unit == u)] for u in range(problem.n_units)
    ]
    if forced is not None:
        options[int(problem.e_unit[forced])] = [forced]
    for unit, edge in (fixed or {}).items():
        options[unit] = [edge]
    best: tuple[int, ...] | None = None
    for combo in itertools.product(*options):
        if not _feasible(problem, combo):
            continue
        key = key_of(problem, np.array(combo))
        best = key if best is None or key > best else best
    return best


def milp_optimum(
    problem: Any, forced: int | None = None, time_limit: float = 60.0
) -> tuple[tuple[int, ...], np.ndarray] | None:
    """Staged lexicographic MILP: each level maximised with the previous levels fixed at
    their optimum. Returns the objective and the chosen edge per unit, or None when
    infeasible (a forced edge that cannot be used)."""
    n = problem.n_edges
    size = problem.size[problem.e_unit].astype(float)
    rows: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    for cover in _covers(problem):
        rows.append(np.isin(problem.e_unit, cover).astype(float))
        lo.append(0)
        hi.append(1)
    for p in np.unique(problem.e_pool):
        rows.append(np.where(problem.e_pool == p, size, 0.0))
        lo.append(0)
        hi.append(float(problem.pool_free[p]))
    lower = np.zeros(n)
    if forced is not None:
        lower[forced] = 1
    x = np.zeros(n)
    if n == 0:
        return key_of(problem, np.full(problem.n_units, -1)), np.full(problem.n_units, -1)
    for c in _level_rows(problem):
        res = milp(
            -c,
            constraints=LinearConstraint(np.array(rows), lo, hi),
            integrality=np.ones(n),
            bounds=Bounds(lower, 1),
            options={"time_limit": time_limit},
        )
        if res.status == 2:  # infeasible
            return None
        assert res.success, res.message
        x = np.round(res.x)
        value = float(np.round(c @ x))
        rows.append(c)
        lo.append(value - 0.5)
        hi.append(value + 0.5)
    chosen = np.full(problem.n_units, -1)
    for e in np.flatnonzero(x > 0.5):
        chosen[problem.e_unit[e]] = e
    return key_of(problem, chosen), chosen


def split_optimum(problem: Any) -> tuple[tuple[int, ...], int]:
    """The split mode's rule, from first principles: the no-split optimum's groups kept
    together stay placed whole (a level above all), the other groups may go as members.
    Returns the objective (without the kept level) and the number of kept groups. Ties in
    phase 1 could keep different groups; the tests use instances where that does not change
    the optimum of phase 2's placed level."""
    from dataclasses import replace

    whole = np.flatnonzero(problem.parent < 0)
    index = np.full(problem.n_units, -1)
    index[whole] = np.arange(len(whole))
    keep = np.isin(problem.e_unit, whole)
    base = replace(
        problem,
        units=tuple(problem.units[u] for u in whole),
        size=problem.size[whole],
        group=tuple(problem.group[u] for u in whole),
        e_unit=index[problem.e_unit[keep]],
        e_pool=problem.e_pool[keep],
        e_tier=problem.e_tier[keep],
        e_cost=problem.e_cost[keep],
        e_option=problem.e_option[keep],
        e_order=problem.e_order[keep],
        parent=np.full(len(whole), -1),
        protected=np.zeros(len(whole), dtype=bool),
    )
    found = milp_optimum(base)
    assert found is not None
    _, chosen = found
    kept = np.zeros(problem.n_units, dtype=bool)
    kept[whole[(chosen >= 0) & (base.size > 1)]] = True
    units = np.flatnonzero((problem.parent < 0) | ~kept[np.maximum(problem.parent, 0)])
    index = np.full(problem.n_units, -1)
    index[units] = np.arange(len(units))
    keep = np.isin(problem.e_unit, units)
    parent = np.array([index[p] if p >= 0 else -1 for p in problem.parent[units]])
    phase2 = replace(
        problem,
        units=tuple(problem.units[u] for u in units),
        size=problem.size[units],
        group=tuple(problem.group[u] for u in units),
        e_unit=index[problem.e_unit[keep]],
        e_pool=problem.e_pool[keep],
        e_tier=problem.e_tier[keep],
        e_cost=problem.e_cost[keep],
        e_option=problem.e_option[keep],
        e_order=problem.e_order[keep],
        parent=parent,
        protected=kept[units],
    )
    found = milp_optimum(phase2)
    assert found is not None
    return found[0][1:], int(kept.sum())
