"""The batch problem (units, pools, eligible edges) and its lexicographic objective."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from matcher.rank import Matcher
from matcher.rules import DISTANCE_FREE, make_view
from matcher.tables import IntArray, Unit

__all__ = [
    "SPLIT_PENALTY_KM",
    "BatchProblem",
    "Objective",
    "build_problem",
    "level_range",
    "merge_levels",
    "objective_levels",
    "objective_of",
]

SPLIT_PENALTY_KM = 200.0  # km-equivalents per sibling group not kept together (split mode)


@dataclass(frozen=True)
class BatchProblem:
    """Units, pools and eligible (unit, pool) edges: the only input a solver sees."""

    units: tuple[Unit, ...]
    size: IntArray  # children per unit
    group: tuple[str | None, ...]  # sibling group per unit when groups may be split
    pool_free: IntArray  # free places per pool (all pools of the matcher)
    e_unit: IntArray
    e_pool: IntArray
    e_tier: IntArray
    e_cost: IntArray  # within-tier score per child, in hundredths
    e_option: np.ndarray  # option id per edge
    e_order: IntArray  # deterministic tie-break (option order key)
    split_penalty: int = 0  # hundredths per group not kept together (split mode only)

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_edges(self) -> int:
        return len(self.e_unit)

    def edges_of_unit(self) -> list[IntArray]:
        order = np.argsort(self.e_unit, kind="stable")
        bounds = np.searchsorted(self.e_unit[order], np.arange(self.n_units + 1))
        return [order[bounds[u] : bounds[u + 1]] for u in range(self.n_units)]


_NO_EDGES = (
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=object),
    np.zeros(0, dtype=np.int64),
)


def _unit_edges(matcher: Matcher, unit: Unit, as_of: date, free: IntArray) -> list[np.ndarray]:
    day = as_of.toordinal()
    tables = [unit.network]
    idx = matcher.candidates(unit)
    tables.append(matcher.options if idx is None else matcher.options.take(idx))
    parts: list[list[np.ndarray]] = []
    for table in tables:
        if not len(table):
            continue
        view = make_view(unit, table, free, day)
        ok = np.ones(len(table), dtype=bool)
        policy = matcher.policy_for(unit)
        for rule in DISTANCE_FREE:
            ok &= ~rule(view, policy)
        keep = np.flatnonzero(ok)
        if not len(keep):
            continue
        sub = table.take(keep)
        ev = matcher.evaluate(unit, sub, as_of, free)
        el = ev.eligible
        parts.append(
            [
                sub.pool[el],
                sub.tier[el].astype(np.int64),
                np.rint(ev.score[el] * 100).astype(np.int64),
                sub.option_id[el],
                sub.order_key[el],
            ]
        )
    pool, tier, cost, option, order = (
        (np.concatenate([p[k] for p in parts]) for k in range(5)) if parts else _NO_EDGES
    )
    if not len(pool):
        return [pool, tier, cost, option, order]
    # A unit takes at most one offer per home: the best one (lower tier, then lower score)
    # dominates the others for every level of the objective, so only it is kept.
    best = np.lexsort((order, cost, tier, pool))
    first = best[np.r_[True, pool[best][1:] != pool[best][:-1]]]
    return [pool[first], tier[first], cost[first], option[first], order[first]]


def build_problem(
    matcher: Matcher, units: list[Unit], as_of: date, allow_split: bool = False
) -> BatchProblem:
    """Eligible edges of every unit, from the ranking core's rules and terms."""
    group: list[str | None] = [None] * len(units)
    if allow_split:
        units, group = matcher.split_units(units)
    free = matcher.pools.free
    cols: list[list[np.ndarray]] = [[], [], [], [], [], []]
    for u, unit in enumerate(units):
        pool, tier, cost, option, order = _unit_edges(matcher, unit, as_of, free)
        for k, values in enumerate((np.full(len(pool), u), pool, tier, cost, option, order)):
            cols[k].append(values)

    def cat(k: int, dtype: Any) -> np.ndarray:
        return np.concatenate(cols[k]).astype(dtype) if cols[k] else np.zeros(0, dtype=dtype)

    return BatchProblem(
        units=tuple(units),
        size=np.array([u.size for u in units], dtype=np.int64),
        group=tuple(group),
        pool_free=free.copy(),
        e_unit=cat(0, np.int64),
        e_pool=cat(1, np.int64),
        e_tier=cat(2, np.int64),
        e_cost=cat(3, np.int64),
        e_option=cat(4, object),
        e_order=cat(5, np.int64),
        split_penalty=round(SPLIT_PENALTY_KM * 100) if allow_split else 0,
    )


@dataclass(frozen=True)
class Objective:
    placed: int
    tier1: int
    tier2: int
    tier3: int
    score: float  # children x score, km-equivalents
    split_groups: int = 0

    def key(self) -> tuple[int, int, int, int, int]:
        """Larger is better, lexicographically (score in hundredths, negated)."""
        return (self.placed, self.tier1, self.tier2, self.tier3, -round(self.score * 100))

    def as_dict(self) -> dict[str, Any]:
        return {
            "placed": self.placed,
            "tier1": self.tier1,
            "tier2": self.tier2,
            "tier3": self.tier3,
            "score": self.score,
        }


def objective_of(problem: BatchProblem, chosen: IntArray) -> Objective:
    """The objective of an assignment given as one edge index per unit (-1: unplaced)."""
    used = chosen[chosen >= 0]
    size = problem.size[problem.e_unit[used]]
    tier = problem.e_tier[used]
    cents = int((size * problem.e_cost[used]).sum())
    split = _split_groups(problem, chosen)
    cents += split * problem.split_penalty
    return Objective(
        int(size.sum()),
        int(size[tier == 1].sum()),
        int(size[tier == 2].sum()),
        int(size[tier == 3].sum()),
        cents / 100,
        split,
    )


def _split_groups(problem: BatchProblem, chosen: IntArray) -> int:
    if not problem.split_penalty:
        return 0
    homes: dict[str, set[int]] = {}
    for u, g in enumerate(problem.group):
        if g is not None:
            homes.setdefault(g, set()).add(int(problem.e_pool[chosen[u]]) if chosen[u] >= 0 else -1)
    return sum(1 for pools in homes.values() if len(pools) > 1 or -1 in pools)


def objective_levels(problem: BatchProblem) -> list[IntArray]:
    """Per-child costs of the five levels on each edge, each to be minimised in turn."""
    tier = problem.e_tier
    one = np.ones(problem.n_edges, dtype=np.int64)
    return [
        -one,
        -(tier == 1).astype(np.int64),
        -(tier == 2).astype(np.int64),
        -(tier == 3).astype(np.int64),
        problem.e_cost.astype(np.int64),
    ]


def level_range(problem: BatchProblem, cost: IntArray) -> int:
    """Largest difference of a level's total between two assignments: each unit adds its
    size times at most one edge's per-child cost (or nothing), so the total lies between the
    sums of the units' minima and maxima."""
    lo = np.zeros(problem.n_units, dtype=np.int64)
    hi = np.zeros(problem.n_units, dtype=np.int64)
    np.minimum.at(lo, problem.e_unit, cost)
    np.maximum.at(hi, problem.e_unit, cost)
    return int((problem.size * (hi - lo)).sum())


def merge_levels(problem: BatchProblem, levels: list[IntArray], budget: int) -> list[IntArray]:
    """Combine consecutive levels into one cost where the weight is provably large enough.

    Merging a with b as a * (R_b + 1) + b, where R_b bounds how much b's total can differ
    between two assignments, orders assignments exactly as (a, then b): a difference of 1 in
    a outweighs any difference in b. A merge happens only if the merged per-child costs,
    times the largest unit, stay within `budget`; otherwise b starts a new stage.
    """
    biggest = int(problem.size.max(initial=1))
    merged: list[IntArray] = []
    for cost in levels:
        if merged:
            weight = level_range(problem, cost) + 1
            top = (
                int(np.abs(merged[-1]).max(initial=0)) * weight + int(np.abs(cost).max(initial=0))
            ) * biggest
            if top <= budget:
                merged[-1] = merged[-1] * weight + cost
                continue
        merged.append(cost.astype(np.int64))
    return merged
