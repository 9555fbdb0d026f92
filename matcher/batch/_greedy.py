"""The baseline: today's practice of matching in arrival order."""

from __future__ import annotations

import time

import numpy as np

from matcher.batch._problem import BatchProblem, objective_of
from matcher.batch._solution import FEASIBLE, Solution

__all__ = ["solve_greedy"]


def solve_greedy(problem: BatchProblem) -> Solution:
    """Units in arrival order, each taking its best-ranked option that still has room. In
    split mode a group tries to stay together first; its members go one by one only if it
    found no home."""
    start = time.perf_counter()
    left = problem.pool_free.copy()
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    edges = problem.edges_of_unit()
    member = problem.parent >= 0
    # A member arrives with its group, right after the group's own attempt.
    head = np.where(member, problem.parent, np.arange(problem.n_units))
    arrival = sorted(
        range(problem.n_units),
        key=lambda u: (problem.units[int(head[u])].arrival, int(head[u]), bool(member[u]), u),
    )
    for u in arrival:
        e = edges[u]
        if not len(e) or (member[u] and chosen[problem.parent[u]] >= 0):
            continue
        ranked = e[np.lexsort((problem.e_order[e], problem.e_cost[e], problem.e_tier[e]))]
        for k in ranked:
            pool = problem.e_pool[k]
            if left[pool] >= problem.size[u]:
                left[pool] -= problem.size[u]
                chosen[u] = k
                break
    return Solution(
        FEASIBLE,
        "greedy",
        time.perf_counter() - start,
        chosen,
        objective_of(problem, chosen),
        gap=None,
    )
