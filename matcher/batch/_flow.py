"""Min-cost flow, solved lexicographically in stages, each stage priced on a few edges."""

from __future__ import annotations

import time

import numpy as np
from ortools.graph.python import min_cost_flow

from matcher.batch._problem import BatchProblem, merge_levels, objective_levels, objective_of
from matcher.batch._solution import OPTIMAL, Solution
from matcher.tables import IntArray

__all__ = ["PRICED_EDGES_PER_UNIT", "lexicographic_flow", "solve_flow"]

# OR-Tools' cost-scaling min-cost flow multiplies costs by (nodes + 1); keep a factor of 4
# of headroom below int64 for the sums it forms.
_INT64_BUDGET = 2**61
# First working set of the priced flow: a unit's best edges (measured on the stress instance).
PRICED_EDGES_PER_UNIT = 24


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


def _reduced_costs(
    arcs: IntArray, cost: IntArray, dist: IntArray, tails: IntArray, heads: IntArray
) -> IntArray:
    """cost + dist[tail] - dist[head] of `arcs`, summed in place: one arc-sized temporary at a
    time instead of six (the flow's memory peak nationally)."""
    reduced = cost[arcs]
    reduced += dist[tails[arcs]]
    reduced -= dist[heads[arcs]]
    return reduced


def _best_of_each_unit(order: IntArray, e_unit: IntArray, allowed: np.ndarray, k: int) -> IntArray:
    """The first k allowed edges of every unit, in `order` (`BatchProblem.edge_preference`).
    Positions in int32 and no array kept longer than needed: this ran at the flow's peak of
    memory (46 MB of temporaries nationally)."""
    ordered = order[allowed[order]]
    unit = e_unit[ordered]
    starts = np.ones(len(unit), dtype=bool)
    np.not_equal(unit[1:], unit[:-1], out=starts[1:])
    del unit
    position = np.arange(len(ordered), dtype=np.int32)
    rank = np.where(starts, position, np.int32(0))
    np.maximum.accumulate(rank, out=rank)  # the position where each unit's run starts
    np.subtract(position, rank, out=rank)  # the place within the run
    return ordered[rank < k]


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
        reduced = _reduced_costs(arcs, cost, dist, tails, heads)
        priced_in = (reduced < 0) & ~working
        if not priced_in.any():
            full = np.zeros(len(arcs), dtype=np.int64)
            full[working] = flow
            return full, dist
        working |= priced_in


def lexicographic_flow(
    problem: BatchProblem,
    budget: int | None = None,
    per_unit: int = PRICED_EDGES_PER_UNIT,
    levels: list[IntArray] | None = None,
) -> tuple[IntArray, int]:
    """Children sent along each edge in the lexicographic optimum of the flow model, and the
    number of stages. A unit of size s supplies s children; with sibling groups this is the
    relaxation in which a group may be split or partly placed (its LP relaxation).
    `levels` replaces the objective's levels (default `objective_levels`)."""
    n_u = problem.n_units
    pools = problem.pools_used
    pool_node = np.zeros(int(pools.max(initial=0)) + 1, dtype=np.int64)
    pool_node[pools] = n_u + np.arange(len(pools))
    sink = n_u + len(pools)
    n_nodes = sink + 1
    # Split mode: a group unit is a hub its members may send their one child each to; it
    # supplies nothing itself and has no arc of its own to the sink.
    hub = problem.is_hub
    own_size = np.where(hub, 0, problem.size)
    members = np.flatnonzero(problem.parent >= 0)
    # Arcs: unit->pool (the edges), unit->sink (left unplaced), pool->sink (capacity),
    # member->group hub.
    tails = np.concatenate([problem.e_unit, np.arange(n_u), np.arange(n_u, sink), members])
    heads = np.concatenate(
        [
            pool_node[problem.e_pool],
            np.full(n_u, sink),
            np.full(len(pools), sink),
            problem.parent[members],
        ]
    )
    caps = np.concatenate(
        [
            problem.size[problem.e_unit],
            own_size,
            problem.pool_free[pools],
            np.ones(len(members), dtype=np.int64),
        ]
    ).astype(np.int64)
    n_arcs = len(tails)
    budget = budget if budget is not None else _INT64_BUDGET // (n_nodes + 1)
    stage_costs = []
    for level in merge_levels(problem, levels or objective_levels(problem), budget):
        cost = np.zeros(n_arcs, dtype=np.int64)
        cost[: problem.n_edges] = level
        stage_costs.append(cost)
    # Every stage's working set starts from the edges each unit prefers by the objective's
    # own order of levels (tier, then score), among the edges the stage may still use.
    preference = problem.edge_preference
    supply = np.zeros(n_nodes, dtype=np.int64)
    supply[:n_u] = own_size
    supply[sink] = -int(own_size.sum())
    fixed = np.zeros(n_arcs, dtype=np.int64)  # flow fixed by earlier stages
    active = np.ones(n_arcs, dtype=bool)
    flows = np.zeros(n_arcs, dtype=np.int64)
    for k, cost in enumerate(stage_costs):
        arcs = np.flatnonzero(active)
        seed = _best_of_each_unit(preference, problem.e_unit, active[: problem.n_edges], per_unit)
        stage_flow, dist = _priced_flow(
            n_nodes,
            problem.n_edges,
            tails,
            heads,
            caps,
            cost,
            supply,
            arcs,
            seed,
            flows[arcs] - fixed[arcs],
        )
        flows = fixed.copy()
        flows[arcs] += stage_flow
        if k == len(stage_costs) - 1:
            break
        # Restrict the next stage to this stage's optimal face.
        reduced = _reduced_costs(arcs, cost, dist, tails, heads)
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
    if (problem.size > 1).any() or problem.split:
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
