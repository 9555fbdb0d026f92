"""Why a child of a batch did not get its first-ranked option, and what giving it would cost.

For a child whose first-ranked eligible option (its unit's best edge: lowest tier, then
lowest score, then the option order) is not what the optimum gave it, the explanation names
that option, the children who hold its home in the optimum, and `cost_if_forced`: the change
of every objective level if the child had been given it. It is found by solving the batch
again with that one assignment fixed (the unit and every unit sharing a child with it taken
out, the home's places reduced by the unit's size), with the same solver, so it is exact
whenever both solves are proven optimal; `exact` says whether they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from matcher.batch._dispatch import solve
from matcher.batch._problem import BatchProblem, Objective, objective_of
from matcher.batch._solution import OPTIMAL, Solution
from matcher.tables import KINDS, IntArray

__all__ = ["LEVELS", "explain", "first_choice", "forced_objective"]

LEVELS = ("placed", "together", "tier1", "tier2", "tier3", "score")


def _best_edge(problem: BatchProblem, edges: IntArray) -> int:
    order = np.lexsort((problem.e_order[edges], problem.e_cost[edges], problem.e_tier[edges]))
    return int(edges[order[0]])


def first_choice(problem: BatchProblem, unit: int) -> int:
    """The first-ranked eligible option of a unit's child, as an edge (-1: none). A member
    of a group (split mode) ranks as its group, as the ranking core does, while the group
    has an eligible option; else alone."""
    edges = problem.edges_of_unit()
    parent = int(problem.parent[unit])
    if parent >= 0 and len(edges[parent]):
        return _best_edge(problem, edges[parent])
    return _best_edge(problem, edges[unit]) if len(edges[unit]) else -1


def _option(problem: BatchProblem, e: int) -> dict[str, Any]:
    tier = int(problem.e_tier[e])
    return {
        "option_id": str(problem.e_option[e]),
        "kind": KINDS[tier - 1].value,
        "tier": tier,
        "score": int(problem.e_cost[e]) / 100,
    }


def forced_objective(
    problem: BatchProblem,
    edge: int,
    solver: str = "auto",
    time_limit: float | None = None,
    workers: int = 1,
) -> tuple[Objective | None, Solution | None, str | None]:
    """The optimum with `edge` fixed: (objective, the rest's solution, reason if the fixed
    assignment cannot be part of any solution)."""
    u = int(problem.e_unit[edge])
    pool = int(problem.e_pool[edge])
    size = int(problem.size[u])
    if problem.pool_free[pool] < size:
        return (
            None,
            None,
            f"the home has {int(problem.pool_free[pool])} free places, the unit needs {size}",
        )
    # Every unit that shares a child with u goes out with it.
    out = np.zeros(problem.n_units, dtype=bool)
    out[u] = True
    if problem.parent[u] >= 0:
        out[problem.parent[u]] = True
    out[problem.parent == u] = True
    rest = np.flatnonzero(~out)
    free = problem.pool_free.copy()
    free[pool] -= size
    sub, origin = problem.subset(rest, free)
    sol = solve(sub, solver, time_limit, workers)
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    placed = sol.chosen >= 0
    chosen[rest[placed]] = origin[sol.chosen[placed]]
    chosen[u] = edge
    return objective_of(problem, chosen), sol, None


def _levels(obj: Objective) -> dict[str, float]:
    d = obj.as_dict()
    return {k: d[k] for k in LEVELS}


def explain(
    problem: BatchProblem,
    solution: Solution,
    children: Iterable[str] | None = None,
    time_limit: float | None = None,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """An explanation for every child (of `children`, default all) that did not get its
    first-ranked eligible option, sorted by child id."""
    wanted = set(children) if children is not None else None
    solver = solution.solver if solution.solver in ("flow", "cpsat", "greedy") else "auto"
    chosen = solution.chosen
    where: dict[str, int] = {}
    for v in np.flatnonzero(chosen >= 0):
        for cid in problem.units[int(v)].child_ids:
            where[cid] = int(chosen[v])
    at_pool: dict[int, list[str]] = {}
    for cid, e in where.items():
        at_pool.setdefault(int(problem.e_pool[e]), []).append(cid)
    base = _levels(solution.objective)
    hub = problem.is_hub
    forced_cache: dict[int, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for u, unit in enumerate(problem.units):
        if hub[u]:
            continue  # its members speak for it
        for cid in unit.child_ids:
            if wanted is not None and cid not in wanted:
                continue
            f = first_choice(problem, u)
            if f < 0:
                continue  # no eligible option: nothing was passed over
            got = where.get(cid, -1)
            same = got >= 0 and (
                problem.e_option[got] == problem.e_option[f]
                and problem.e_tier[got] == problem.e_tier[f]
            )
            if same:
                continue
            if f not in forced_cache:
                forced_cache[f] = _forced(problem, f, solver, time_limit, workers, base, solution)
            rows.append(
                {
                    "child_id": cid,
                    "sibling_group": unit.sibling_group or problem.group[u],
                    "assigned": _option(problem, got) if got >= 0 else None,
                    "first_choice": _option(problem, f),
                    "held_by": sorted(
                        c for c in at_pool.get(int(problem.e_pool[f]), []) if c != cid
                    ),
                    **forced_cache[f],
                }
            )
    return sorted(rows, key=lambda r: r["child_id"])


def _forced(
    problem: BatchProblem,
    f: int,
    solver: str,
    time_limit: float | None,
    workers: int,
    base: dict[str, float],
    solution: Solution,
) -> dict[str, Any]:
    obj, sol, reason = forced_objective(problem, f, solver, time_limit, workers)
    if obj is None or sol is None:
        return {"feasible": False, "reason": reason, "cost_if_forced": None, "exact": False}
    forced = _levels(obj)
    delta = {k: round(forced[k] - base[k], 2) for k in LEVELS}
    return {
        "feasible": True,
        "reason": None,
        "cost_if_forced": delta,
        "exact": solution.status == OPTIMAL and sol.status == OPTIMAL,
    }
