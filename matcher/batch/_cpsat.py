"""Sibling groups: the flow relaxation repaired with CP-SAT, then the whole model."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from matcher.batch._flow import lexicographic_flow
from matcher.batch._greedy import solve_greedy
from matcher.batch._problem import BatchProblem, merge_levels, objective_levels, objective_of
from matcher.batch._solution import (
    FEASIBLE,
    OPTIMAL,
    Clock,
    Solution,
    gap_to,
    relaxation_bound,
)
from matcher.tables import IntArray

__all__ = ["FULL_MODEL_EDGES", "solve_cpsat"]

# Above this many edges the whole packing model is too large for CP-SAT to improve on the
# decomposition in seconds (measured: no first solution in 28 s at 523k edges).
FULL_MODEL_EDGES = 60_000


def _cpsat_staged(
    problem: BatchProblem,
    clock: Clock,
    workers: int,
    seed: int,
    hint: IntArray | None = None,
) -> tuple[IntArray | None, bool, list[str]]:
    """The whole packing model in CP-SAT, one stage per (merged) level; each stage keeps the
    previous stage's optimum as a constraint. Returns the chosen edges (None if no solution
    in time), whether every stage was proven optimal, and notes."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{e}") for e in range(problem.n_edges)]
    edges = problem.edges_of_unit()
    for unit_edges in edges:
        if len(unit_edges) > 1:
            model.add_at_most_one(x[k] for k in unit_edges)
    size_e = problem.size[problem.e_unit]
    by_pool: dict[int, list[int]] = {}
    for k, p in enumerate(problem.e_pool):
        by_pool.setdefault(int(p), []).append(k)
    for p, ks in sorted(by_pool.items()):
        if int(size_e[ks].sum()) > problem.pool_free[p]:
            model.add(sum(int(size_e[k]) * x[k] for k in ks) <= int(problem.pool_free[p]))
    levels = objective_levels(problem)
    apart = _split_model(model, problem, x, edges)
    # Count levels merged with proven weights; the score level (with any split penalties)
    # is its own stage, so that CP-SAT's objective coefficients stay small.
    stages: list[tuple[IntArray, list[Any]]] = [
        (c, []) for c in merge_levels(problem, levels[:4], 2**50)
    ]
    stages.append((levels[4], apart))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    values = None if hint is None else _edge_values(problem, hint)
    proven = True
    notes: list[str] = []
    for k, (cost, extra) in enumerate(stages):
        expr = sum(int(c) * int(size_e[e]) * x[e] for e, c in enumerate(cost) if c) + sum(
            problem.split_penalty * v for v in extra
        )
        model.minimize(expr)
        model.clear_hints()
        for e, v in enumerate(values or []):
            model.add_hint(x[e], v)
        clock.arm(solver)
        status = solver.solve(model)
        clock.charge(solver)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            notes.append(f"CP-SAT stage {k + 1}: no solution within the time limit")
            proven = False
            break
        values = [int(solver.value(v)) for v in x]
        if status != cp_model.OPTIMAL:
            notes.append(f"CP-SAT stage {k + 1}: not proven optimal within the time limit")
            proven = False
            break
        model.add(expr == round(solver.objective_value))
    if values is None:
        return None, False, notes
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    for e, v in enumerate(values):
        if v:
            chosen[problem.e_unit[e]] = e
    return chosen, proven, notes


def _edge_values(problem: BatchProblem, chosen: IntArray) -> list[int]:
    values = [0] * problem.n_edges
    for e in chosen[chosen >= 0]:
        values[int(e)] = 1
    return values


def _restrict(
    problem: BatchProblem, units: IntArray, pool_left: IntArray
) -> tuple[BatchProblem, IntArray]:
    """The sub-problem of some units against the places left; returns it and, per edge of
    the sub-problem, the edge of the full problem it came from."""
    new_index = np.full(problem.n_units, -1, dtype=np.int64)
    new_index[units] = np.arange(len(units))
    keep = np.flatnonzero(
        (new_index[problem.e_unit] >= 0)
        & (pool_left[problem.e_pool] >= problem.size[problem.e_unit])
    )
    sub = BatchProblem(
        units=tuple(problem.units[u] for u in units),
        size=problem.size[units],
        group=tuple(problem.group[u] for u in units),
        pool_free=pool_left,
        e_unit=new_index[problem.e_unit[keep]],
        e_pool=problem.e_pool[keep],
        e_tier=problem.e_tier[keep],
        e_cost=problem.e_cost[keep],
        e_option=problem.e_option[keep],
        e_order=problem.e_order[keep],
        split_penalty=problem.split_penalty,
    )
    return sub, keep


def _repair(
    problem: BatchProblem, flows: IntArray, clock: Clock, workers: int, seed: int
) -> tuple[IntArray, list[str]]:
    """Keep every unit the relaxation placed whole (or left out whole); solve the units it
    split, together with the units competing for the same homes, exactly with CP-SAT."""
    whole = flows == problem.size[problem.e_unit]
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    chosen[problem.e_unit[whole]] = np.flatnonzero(whole)
    placed_children = np.zeros(problem.n_units, dtype=np.int64)
    np.add.at(placed_children, problem.e_unit, flows)
    broken = (chosen < 0) & (placed_children > 0)
    if problem.split_penalty:
        groups_apart = _apart_groups(problem, chosen)
        broken |= np.array([g in groups_apart for g in problem.group])
    if not broken.any():
        return chosen, []
    broken_units = np.flatnonzero(broken)
    homes = np.unique(problem.e_pool[np.isin(problem.e_unit, broken_units)])
    rivals = np.flatnonzero((chosen >= 0) & np.isin(problem.e_pool[np.maximum(chosen, 0)], homes))
    free_units = np.union1d(broken_units, rivals)
    chosen[free_units] = -1
    left = problem.pool_free.copy()
    used = chosen[chosen >= 0]
    np.subtract.at(left, problem.e_pool[used], problem.size[problem.e_unit[used]])
    sub, origin = _restrict(problem, free_units, left)
    sub_chosen, _, notes = _cpsat_staged(sub, clock, workers, seed)
    if sub_chosen is None:
        sub_chosen = solve_greedy(sub).chosen
        notes.append("repair: greedy fallback")
    placed = sub_chosen >= 0
    chosen[free_units[placed]] = origin[sub_chosen[placed]]
    return chosen, [
        f"repair: {len(broken_units)} units split by the relaxation, "
        f"{len(free_units)} units re-solved",
        *notes,
    ]


def _apart_groups(problem: BatchProblem, chosen: IntArray) -> set[str]:
    homes: dict[str, set[int]] = {}
    for u, g in enumerate(problem.group):
        if g is not None:
            homes.setdefault(g, set()).add(int(problem.e_pool[chosen[u]]) if chosen[u] >= 0 else -1)
    return {g for g, h in homes.items() if len(h) > 1 or -1 in h}


def solve_cpsat(
    problem: BatchProblem,
    time_limit: float | None = None,
    workers: int = 1,
    seed: int = 0,
    deterministic: bool = False,
) -> Solution:
    """Sibling groups need `size` places at one home: a packing problem.

    1. The flow relaxation (a group may split) is solved exactly and lexicographically; its
       objective bounds every packing from above.
    2. Units it placed whole are kept; split groups and the units competing for their homes
       are re-solved exactly with CP-SAT. If the result meets the bound it is OPTIMAL.
    3. Otherwise the whole model goes to CP-SAT, hinted with that result, for the time left;
       the better of the two is returned, OPTIMAL if CP-SAT proved it, else FEASIBLE with the
       relaxation bound and the gap.
    """
    start = time.perf_counter()
    clock = Clock(time_limit, deterministic)
    flows, stages = lexicographic_flow(problem)
    bound = relaxation_bound(problem, flows)
    chosen, notes = _repair(problem, flows, clock, workers, seed)
    obj = objective_of(problem, chosen)
    status = OPTIMAL if obj.key() == bound.key() else FEASIBLE
    if status != OPTIMAL and problem.n_edges > FULL_MODEL_EDGES:
        notes.append(f"whole model not tried: {problem.n_edges} edges > {FULL_MODEL_EDGES}")
    elif status != OPTIMAL and not clock.expired():
        full, proven, more = _cpsat_staged(problem, clock, workers, seed, hint=chosen)
        notes += more
        if full is not None:
            full_obj = objective_of(problem, full)
            if proven or full_obj.key() > obj.key():
                chosen, obj = full, full_obj
            if proven:
                status = OPTIMAL
    gap = 0.0 if status == OPTIMAL else gap_to(obj, bound)
    shown = obj.as_dict() if status == OPTIMAL else bound.as_dict()
    return Solution(
        status, "cpsat", time.perf_counter() - start, chosen, obj, shown, gap, stages, notes
    )


def _split_model(
    model: cp_model.CpModel, problem: BatchProblem, x: list[Any], edges: list[IntArray]
) -> list[Any]:
    """Split mode: `apart` is 1 unless every member of the group sits at one home."""
    if not problem.split_penalty:
        return []
    members: dict[str, list[int]] = {}
    for u, g in enumerate(problem.group):
        if g is not None:
            members.setdefault(g, []).append(u)
    apart_vars = []
    for g, units in sorted(members.items()):
        shared = set.intersection(*(set(problem.e_pool[edges[u]].tolist()) for u in units))
        together = []
        for p in sorted(shared):
            t = model.new_bool_var(f"together_{g}_{p}")
            for u in units:
                at_p = [x[k] for k in edges[u] if problem.e_pool[k] == p]
                model.add(t <= sum(at_p))
            together.append(t)
        apart = model.new_bool_var(f"apart_{g}")
        model.add(apart + sum(together) >= 1)
        apart_vars.append(apart)
    return apart_vars
