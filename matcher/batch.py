"""Optimal batch matching of a cohort of children to a region's capacity.

The problem comes from the ranking core (same rules, same score terms): a unit (a child, or
a sibling group placed together) may take an eligible offer; each capacity pool (a home) has
free places. The objective is lexicographic and exact:

  (1) most children placed, (2) most in tier 1, (3) most in tier 2, (4) most in tier 3,
  (5) lowest total within-tier score (children x score, in whole hundredths).

Levels are combined with weights only where the weights are proven large enough from the
data's bounds (`merge_levels`); otherwise they are solved in stages, each stage restricted to
the optimal solutions of the one before:

- `flow`: every unit needs one place. OR-Tools min-cost flow per stage; between stages, node
  potentials (shortest paths in the residual graph) give reduced costs, and by complementary
  slackness a flow is optimal for the stage iff it uses no arc of positive reduced cost and
  saturates every arc of negative reduced cost, so those arcs are removed or fixed and the
  next stage optimises over exactly the optimal face. Each stage is priced: it is solved on
  the units' best few edges and re-solved with any edge whose reduced cost turns out
  negative, so the 2 M-edge stress instance is solved on about a twentieth of its edges,
  exactly.
- `cpsat`: sibling groups make it a packing problem. CP-SAT per stage; each stage fixes the
  previous stage's optimal value as a constraint. Reports FEASIBLE, the bound and the gap when
  a stage is not proven within the time limit.
- `greedy`: today's practice, the baseline: units in arrival order take their best-ranked
  option that still has room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from matcher.rank import Matcher
from matcher.rules import DISTANCE_FREE, make_view
from matcher.tables import IntArray, Unit

__all__ = [
    "FEASIBLE",
    "OPTIMAL",
    "BatchProblem",
    "Objective",
    "Solution",
    "build_problem",
    "merge_levels",
    "objective_levels",
    "solve",
    "solve_cpsat",
    "solve_flow",
    "solve_greedy",
]

OPTIMAL = "OPTIMAL"
FEASIBLE = "FEASIBLE"
# OR-Tools' cost-scaling min-cost flow multiplies costs by (nodes + 1); keep a factor of 4
# of headroom below int64 for the sums it forms.
_INT64_BUDGET = 2**61
SPLIT_PENALTY_KM = 200.0  # km-equivalents per sibling group not kept together (split mode)
# Above this many edges the whole packing model is too large for CP-SAT to improve on the
# decomposition in seconds (measured: no first solution in 28 s at 523k edges).
FULL_MODEL_EDGES = 60_000
# First working set of the priced flow: a unit's best edges (measured on the stress instance).
PRICED_EDGES_PER_UNIT = 24


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


# ------------------------------------------------------------------------------ objective


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


# ------------------------------------------------------------------------------ solutions


@dataclass
class Solution:
    status: str
    solver: str
    seconds: float
    chosen: IntArray  # edge per unit, -1 unplaced
    objective: Objective
    bound: dict[str, Any] = field(default_factory=dict)
    gap: float | None = 0.0  # None: no bound known (greedy)
    stages: int = 1
    notes: list[str] = field(default_factory=list)


def solve_greedy(problem: BatchProblem) -> Solution:
    """Units in arrival order, each taking its best-ranked option that still has room."""
    start = time.perf_counter()
    left = problem.pool_free.copy()
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    edges = problem.edges_of_unit()
    arrival = sorted(range(problem.n_units), key=lambda u: (problem.units[u].arrival, u))
    for u in arrival:
        e = edges[u]
        if not len(e):
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


# ---------------------------------------------------------------------- min-cost flow


def _potentials(
    n_nodes: int,
    tails: IntArray,
    heads: IntArray,
    caps: IntArray,
    costs: IntArray,
    flows: IntArray,
) -> IntArray:
    """Shortest-path distances in the residual graph from a virtual source joined to every
    node by a 0-cost arc (Bellman-Ford, vectorised). No negative cycle exists at optimum."""
    fwd = flows < caps
    back = flows > 0
    rt = np.concatenate([tails[fwd], heads[back]])
    rh = np.concatenate([heads[fwd], tails[back]])
    rc = np.concatenate([costs[fwd], -costs[back]])
    dist = np.zeros(n_nodes, dtype=np.int64)
    for _ in range(n_nodes + 1):
        new = dist.copy()
        np.minimum.at(new, rh, dist[rt] + rc)
        if np.array_equal(new, dist):
            return dist
        dist = new
    raise RuntimeError("negative cycle in the residual graph: the flow was not optimal")


def _preference_order(problem: BatchProblem) -> IntArray:
    """Edge indices grouped by unit, each unit's edges best first (tier, then score)."""
    cost = problem.e_cost - int(problem.e_cost.min(initial=0))
    span = int(cost.max(initial=0)) + 1
    if problem.n_units * 5 * span < 2**62:  # one int64 key sorts faster than a lexsort
        key = (problem.e_unit * 5 + problem.e_tier) * span + cost
        return np.argsort(key, kind="stable")
    return np.lexsort((problem.e_cost, problem.e_tier, problem.e_unit))


def _best_of_each_unit(order: IntArray, e_unit: IntArray, allowed: np.ndarray, k: int) -> IntArray:
    """The first k allowed edges of every unit, in `order` (from `_preference_order`)."""
    ordered = order[allowed[order]]
    unit = e_unit[ordered]
    position = np.arange(len(ordered))
    starts = np.r_[True, unit[1:] != unit[:-1]] if len(unit) else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(starts, position, 0))
    return ordered[position - first < k]


def _min_cost_flow(
    n_nodes: int, tails: IntArray, heads: IntArray, caps: IntArray, cost: IntArray, supply: IntArray
) -> IntArray:
    smcf = min_cost_flow.SimpleMinCostFlow()
    for node in range(n_nodes):  # every node first, so arc-less nodes exist too
        smcf.set_node_supply(node, 0)
    if len(tails):
        smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, cost)
    smcf.set_nodes_supplies(np.arange(n_nodes), supply)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    return smcf.flows(np.arange(len(tails))) if len(tails) else np.zeros(0, np.int64)


def _priced_flow(
    n_nodes: int,
    n_edges: int,
    tails: IntArray,
    heads: IntArray,
    caps: IntArray,
    cost: IntArray,
    supply: IntArray,
    arcs: IntArray,
    seed: IntArray,
    feasible: IntArray,
) -> tuple[IntArray, IntArray]:
    """An optimal flow over `arcs`, found on a few of them.

    Most of a unit's edges never carry flow. The solve starts from `seed` (each unit's best
    few edges), every non-edge arc and the arcs of a known feasible flow (`feasible`: the
    previous stage's optimum, so no working set is infeasible). It then adds every left-out
    arc whose reduced cost under the working optimum's potentials is negative, and solves
    again, until none is. A flow with no negative reduced-cost residual arc is optimal (the
    optimality condition the stages use), so the answer is exact for all of `arcs`.
    Returns the flow on `arcs` and the potentials.
    """
    working = arcs >= n_edges
    working[np.searchsorted(arcs, seed)] = True
    working[feasible > 0] = True
    while True:
        work = arcs[working]
        flow = _min_cost_flow(n_nodes, tails[work], heads[work], caps[work], cost[work], supply)
        dist = _potentials(n_nodes, tails[work], heads[work], caps[work], cost[work], flow)
        reduced = cost[arcs] + dist[tails[arcs]] - dist[heads[arcs]]
        priced_in = (reduced < 0) & ~working
        if not priced_in.any():
            full = np.zeros(len(arcs), dtype=np.int64)
            full[working] = flow
            return full, dist
        working |= priced_in


def lexicographic_flow(
    problem: BatchProblem, budget: int | None = None, per_unit: int = PRICED_EDGES_PER_UNIT
) -> tuple[IntArray, int]:
    """Children sent along each edge in the lexicographic optimum of the flow model, and the
    number of stages. A unit of size s supplies s children; with sibling groups this is the
    relaxation in which a group may be split or partly placed (its LP relaxation)."""
    n_u = problem.n_units
    pools = np.unique(problem.e_pool)
    pool_node = np.zeros(int(pools.max(initial=0)) + 1, dtype=np.int64)
    pool_node[pools] = n_u + np.arange(len(pools))
    sink = n_u + len(pools)
    n_nodes = sink + 1
    # Arcs: unit->pool (the edges), unit->sink (left unplaced), pool->sink (capacity).
    tails = np.concatenate([problem.e_unit, np.arange(n_u), np.arange(n_u, sink)])
    heads = np.concatenate(
        [pool_node[problem.e_pool], np.full(n_u, sink), np.full(len(pools), sink)]
    )
    caps = np.concatenate(
        [problem.size[problem.e_unit], problem.size, problem.pool_free[pools]]
    ).astype(np.int64)
    n_arcs = len(tails)
    budget = budget if budget is not None else _INT64_BUDGET // (n_nodes + 1)
    stage_costs = []
    for level in merge_levels(problem, objective_levels(problem), budget):
        cost = np.zeros(n_arcs, dtype=np.int64)
        cost[: problem.n_edges] = level
        stage_costs.append(cost)
    # Every stage's working set starts from the edges each unit prefers by the objective's
    # own order of levels (tier, then score), among the edges the stage may still use.
    preference = _preference_order(problem)
    supply = np.zeros(n_nodes, dtype=np.int64)
    supply[:n_u] = problem.size
    supply[sink] = -int(problem.size.sum())
    fixed = np.zeros(n_arcs, dtype=np.int64)  # flow fixed by earlier stages
    active = np.ones(n_arcs, dtype=bool)
    flows = np.zeros(n_arcs, dtype=np.int64)
    for k, cost in enumerate(stage_costs):
        arcs = np.flatnonzero(active)
        stage_flow, dist = _priced_flow(
            n_nodes,
            problem.n_edges,
            tails,
            heads,
            caps,
            cost,
            supply,
            arcs,
            _best_of_each_unit(preference, problem.e_unit, active[: problem.n_edges], per_unit),
            flows[arcs] - fixed[arcs],
        )
        flows = fixed.copy()
        flows[arcs] += stage_flow
        if k == len(stage_costs) - 1:
            break
        # Restrict the next stage to this stage's optimal face.
        reduced = cost[arcs] + dist[tails[arcs]] - dist[heads[arcs]]
        saturate = arcs[reduced < 0]
        forbid = arcs[reduced > 0]
        fixed[saturate] = caps[saturate]
        np.subtract.at(supply, tails[saturate], caps[saturate])
        np.add.at(supply, heads[saturate], caps[saturate])
        active[saturate] = False
        active[forbid] = False
    return flows[: problem.n_edges], len(stage_costs)


def solve_flow(
    problem: BatchProblem,
    time_limit: float | None = None,
    budget: int | None = None,
    per_unit: int = PRICED_EDGES_PER_UNIT,
) -> Solution:
    """Exact lexicographic optimum when every unit needs one place (no sibling groups)."""
    start = time.perf_counter()
    if (problem.size > 1).any() or problem.split_penalty:
        raise ValueError(
            "min-cost flow needs every unit to take one place; sibling groups need the cpsat solver"
        )
    flows, stages = lexicographic_flow(problem, budget, per_unit)
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    used = np.flatnonzero(flows > 0)
    chosen[problem.e_unit[used]] = used
    obj = objective_of(problem, chosen)
    return Solution(
        OPTIMAL, "flow", time.perf_counter() - start, chosen, obj, obj.as_dict(), 0.0, stages
    )


def relaxation_bound(problem: BatchProblem, flows: IntArray) -> Objective:
    """The objective of a relaxed flow: an upper bound, lexicographically, on any packing."""
    tier = problem.e_tier
    return Objective(
        int(flows.sum()),
        int(flows[tier == 1].sum()),
        int(flows[tier == 2].sum()),
        int(flows[tier == 3].sum()),
        int((flows * problem.e_cost).sum()) / 100,
    )


def gap_to(obj: Objective, bound: Objective) -> float:
    """Relative gap at the first level where the solution falls short of the bound."""
    for have, best in zip(obj.key()[:4], bound.key()[:4], strict=True):
        if have != best:
            return (best - have) / max(abs(best), 1)
    return max(obj.score - bound.score, 0.0) / max(abs(bound.score), 1.0)


# ----------------------------------------------------------------------------- CP-SAT


class Clock:
    """The solver's time budget: wall seconds, or CP-SAT's deterministic time, which gives
    the same answer on a loaded machine, a fast one or a Dask worker."""

    def __init__(self, limit: float | None, deterministic: bool = False) -> None:
        self.limit = limit
        self.deterministic = deterministic
        self.start = time.perf_counter()
        self.spent = 0.0

    def remaining(self) -> float | None:
        if self.limit is None:
            return None
        used = self.spent if self.deterministic else time.perf_counter() - self.start
        return max(self.limit - used, 0.0)

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0.0

    def arm(self, solver: cp_model.CpSolver) -> None:
        left = self.remaining()
        if left is None:
            return
        if self.deterministic:
            solver.parameters.max_deterministic_time = max(left, 0.01)
        else:
            solver.parameters.max_time_in_seconds = max(left, 0.01)

    def charge(self, solver: cp_model.CpSolver) -> None:
        self.spent += float(solver.deterministic_time)


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


def solve(
    problem: BatchProblem,
    solver: str = "auto",
    time_limit: float | None = None,
    workers: int = 1,
    deterministic: bool = False,
) -> Solution:
    """Solve with the named method; with `deterministic`, CP-SAT's time limit is counted in
    deterministic time, so the same problem always gets the same answer."""
    if solver == "auto":
        solver = "flow" if not (problem.size > 1).any() and not problem.split_penalty else ("cpsat")
    if solver == "flow":
        return solve_flow(problem, time_limit)
    if solver == "cpsat":
        return solve_cpsat(problem, time_limit, workers, deterministic=deterministic)
    if solver == "greedy":
        return solve_greedy(problem)
    raise ValueError(f"unknown solver {solver!r}: auto, flow, cpsat or greedy")
