"""`--allow-sibling-split`: split a group only where that places more children.

Barnets Lov § 52(3) allows a split for weighty reasons. Placing other children is not one:
a group the no-split optimum keeps together is not broken up to make room for them. So the
split model is solved in two phases:

1. The no-split model (every group whole), exactly as without the option.
2. Groups that phase 1 keeps together stay whole units, and keeping them placed is a level
   above every other ("kept"); groups phase 1 could not place may now go as their members,
   or still together if room turns up. Then the usual lexicographic objective (placed,
   together, tiers, score) over that model.

Phase 1's assignment is feasible for phase 2 and is returned if phase 2 found nothing
better, so phase 2 never places fewer children or keeps fewer groups together.
"""

from __future__ import annotations

import time

import numpy as np

from matcher.batch._cpsat import solve_cpsat
from matcher.batch._problem import BatchProblem, objective_of
from matcher.batch._solution import Clock, Solution
from matcher.tables import IntArray

__all__ = ["solve_split"]


def _lift(chosen: IntArray, units: IntArray, origin: IntArray, n_units: int) -> IntArray:
    """A sub-problem's chosen edges as edges of the full problem."""
    out = np.full(n_units, -1, dtype=np.int64)
    placed = chosen >= 0
    out[units[placed]] = origin[chosen[placed]]
    return out


def _key(problem: BatchProblem, kept: np.ndarray, chosen: IntArray) -> tuple[float, ...]:
    """Phase 2's objective: kept groups placed whole first."""
    return (int(kept[chosen >= 0].sum()), *objective_of(problem, chosen).key()[1:])


def solve_split(
    problem: BatchProblem,
    time_limit: float | None = None,
    workers: int = 1,
    seed: int = 0,
    deterministic: bool = False,
) -> Solution:
    start = time.perf_counter()
    clock = Clock(time_limit, deterministic)
    whole_units = np.flatnonzero(problem.parent < 0)
    base, base_origin = problem.subset(whole_units)
    first = solve_cpsat(base, clock.remaining(), workers, seed, deterministic)
    base_chosen = _lift(first.chosen, whole_units, base_origin, problem.n_units)
    kept = np.zeros(problem.n_units, dtype=bool)
    kept[whole_units] = (first.chosen >= 0) & (base.size > 1)
    # Members of groups phase 1 keeps together are left out: those groups stay whole.
    members = problem.parent >= 0
    units = np.flatnonzero(~members | ~kept[np.maximum(problem.parent, 0)])
    phase2, origin = problem.subset(units, protected=kept[units])
    if clock.remaining() is not None and clock.expired():
        second = None
    else:
        left = time_limit if deterministic else clock.remaining()
        second = solve_cpsat(phase2, left, workers, seed, deterministic)
    notes = [
        f"phase 1 (no split): {first.status}, placed {first.objective.placed}, "
        f"together {first.objective.together}, gap {first.gap:.4%}, {first.seconds:.1f} s"
        + (f"; {'; '.join(first.notes)}" if first.notes else ""),
        f"phase 2: {int(kept.sum())} groups kept whole, "
        f"{int((~kept[whole_units] & (base.size > 1)).sum())} groups may split",
    ]
    chosen = base_chosen
    status, gap, bound, stages = first.status, first.gap, first.bound, first.stages
    if second is not None:
        notes += [f"phase 2: {n}" for n in second.notes]
        lifted = _lift(second.chosen, units, origin, problem.n_units)
        if _key(problem, kept, lifted) >= _key(problem, kept, base_chosen):
            chosen = lifted
            status, gap, bound, stages = second.status, second.gap, second.bound, second.stages
        else:
            notes.append("phase 2 found nothing better than phase 1: phase 1 kept")
    obj = objective_of(problem, chosen)
    return Solution(
        status,
        "cpsat",
        time.perf_counter() - start,
        chosen,
        obj,
        {k: v for k, v in bound.items()} if bound else obj.as_dict(),
        gap,
        stages,
        notes,
    )
