"""Min-cost flow, solved lexicographically in stages, each stage priced on a few edges."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.batch._problem import BatchProblem, merge_levels, objective_levels, objective_of
from matcher.batch._solution import OPTIMAL, Solution
from matcher.tables import IntArray

__all__ = [
    "PRICED_EDGES_PER_UNIT",
    "StagePrices",
    "lexicographic_flow",
    "solve_flow",
    "stage_prices",
]

# OR-Tools' cost-scaling min-cost flow multiplies costs by (nodes + 1); keep a factor of 4
# of headroom below int64 for the sums it forms.
_INT64_BUDGET = 2**61
# Nodes and capacities of arcs: int32, as they live through every stage of the flow.
Int32Array = npt.NDArray[np.int32]
# Arcs per slice where a pass over every arc would otherwise build arc-sized temporaries.
_SLICE = 1 << 18
# First working set of the priced flow: a unit's best edges (measured on the stress instance).
PRICED_EDGES_PER_UNIT = 24


def _residual(
    tails: npt.NDArray[np.int32],
    heads: npt.NDArray[np.int32],
    cost: IntArray,
    forward: np.ndarray,
    backward: np.ndarray,
) -> tuple[IntArray, IntArray, IntArray]:
    """The residual arcs (start, end, cost) of the arcs with room (`forward`) and with
    flow (`backward`, reversed at the negated cost). Nodes as intp once: each round of
    Bellman-Ford indexes with them, and int32 would be converted there."""
    starts = np.concatenate([tails[forward], heads[backward]], dtype=np.intp)
    ends = np.concatenate([heads[forward], tails[backward]], dtype=np.intp)
    step = np.concatenate([cost[forward], -cost[backward]])
    return starts, ends, step


def _potentials(
    n_nodes: int,
    tails: Int32Array,
    heads: Int32Array,
    caps: Int32Array,
    costs: IntArray,
    flows: IntArray,
) -> IntArray:
    """Shortest-path distances in the residual graph from a virtual source joined to every
    node by a 0-cost arc (Bellman-Ford, vectorised). No negative cycle exists at optimum."""
    rt, rh, rc = _residual(tails, heads, costs, flows < caps, flows > 0)
    dist = np.zeros(n_nodes, dtype=np.int64)
    for _ in range(n_nodes + 1):
        new = dist.copy()
        np.minimum.at(new, rh, dist[rt] + rc)
        if np.array_equal(new, dist):
            return dist
        dist = new
    raise RuntimeError("negative cycle in the residual graph: the flow was not optimal")


def _reduced_costs(
    arcs: IntArray, cost: IntArray, dist: IntArray, tails: Int32Array, heads: Int32Array
) -> IntArray:
    """cost + dist[tail] - dist[head] of `arcs`, summed in place and a slice of arcs at a
    time: the temporaries of the whole arc set at once were the flow's memory peak
    nationally (37 MB on 1.2 M arcs)."""
    reduced = _arc_costs(cost, arcs)
    for start in range(0, len(arcs), _SLICE):
        part = arcs[start : start + _SLICE]
        out = reduced[start : start + _SLICE]
        out += dist[tails[part]]
        out -= dist[heads[part]]
    return reduced


def _arc_costs(level: IntArray, arcs: IntArray) -> IntArray:
    """A stage's cost of `arcs` (sorted): the level's per-child cost on the edges (the first
    len(level) arcs), 0 on the other arcs. Levels are not padded to every arc: two padded
    copies were 19 MB of the flow's memory peak nationally."""
    out = np.zeros(len(arcs), dtype=np.int64)
    on_edges = int(np.searchsorted(arcs, len(level)))
    # mode="clip": the default "raise" gathers into a temporary before it writes `out`; the
    # positions are in range by construction (arcs below len(level)).
    np.take(level, arcs[:on_edges], out=out[:on_edges], mode="clip")
    return out


def _best_of_each_unit(order: IntArray, e_unit: IntArray, allowed: np.ndarray, k: int) -> IntArray:
    """The first k allowed edges of every unit, in `order` (`BatchProblem.edge_preference`:
    the edges grouped by unit, units ascending). Counted in int32 over each unit's block of
    `order`, with no edge-sized gather of units: this ran at the flow's memory peak."""
    blocks = np.bincount(e_unit).astype(np.int32)  # each unit's block of `order`
    allowed_in_order = allowed[order]
    rank = np.cumsum(allowed_in_order, dtype=np.int32)  # allowed edges up to each position
    ends = np.cumsum(blocks)
    before = np.zeros(len(blocks), dtype=np.int32)  # allowed edges before each block
    if len(rank):
        inner = ends[:-1]
        before[1:] = np.where(inner > 0, rank[np.maximum(inner, 1) - 1], 0)
    rank -= np.repeat(before, blocks)  # now 1, 2, ... within each block
    return order[allowed_in_order & (rank <= k)]


def _min_cost_flow(
    n_nodes: int,
    tails: Int32Array,
    heads: Int32Array,
    caps: Int32Array,
    cost: IntArray,
    supply: IntArray,
) -> IntArray:
    # Loaded here, not on import (60 ms): `import_solvers` loads it while edges are built.
    from ortools.graph.python import min_cost_flow

    smcf = min_cost_flow.SimpleMinCostFlow()
    # Every node's supply in one call (a Python loop over the nodes took 12 ms a flow,
    # nationally), which also makes the nodes without arcs exist.
    smcf.set_nodes_supplies(np.arange(n_nodes), supply)
    if len(tails):
        smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, cost)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    return smcf.flows(np.arange(len(tails))) if len(tails) else np.zeros(0, np.int64)


def _priced_flow(
    n_nodes: int,
    n_edges: int,
    tails: Int32Array,
    heads: Int32Array,
    caps: Int32Array,
    cost: IntArray,
    supply: IntArray,
    arcs: IntArray,
    seed: IntArray,
    carrying: np.ndarray,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """An optimal flow over `arcs`, found on a few of them.

    Most of a unit's edges never carry flow. The solve starts from `seed` (each unit's best
    few edges), every non-edge arc and the arcs `carrying` a known feasible flow (the
    previous stage's optimum, so no working set is infeasible). It then adds every left-out
    arc whose reduced cost under the working optimum's potentials is negative, and solves
    again, until none is. A flow with no negative reduced-cost residual arc is optimal (the
    optimality condition the stages use), so the answer is exact for all of `arcs`.
    Returns the positions in `arcs` of the working set, the flow on them, the reduced
    cost of every arc of `arcs` under the optimum's potentials, and those potentials.
    """
    working = arcs >= n_edges
    working[np.searchsorted(arcs, seed)] = True
    working |= carrying
    while True:
        work = arcs[working]
        work_cost = _arc_costs(cost, work)
        flow = _min_cost_flow(n_nodes, tails[work], heads[work], caps[work], work_cost, supply)
        dist = _potentials(n_nodes, tails[work], heads[work], caps[work], work_cost, flow)
        reduced = _reduced_costs(arcs, cost, dist, tails, heads)
        priced_in = (reduced < 0) & ~working
        if not priced_in.any():
            return np.flatnonzero(working), flow, reduced, dist
        del reduced  # arc-sized: not to be held beside the next round's
        working |= priced_in


@dataclass(frozen=True)
class _Network:
    """The flow model of a problem: unit->pool arcs (the edges), unit->sink (left
    unplaced), pool->sink (capacity), member->group hub (split mode), in that order. Nodes
    and capacities in int32: these arrays live through every stage, at the flow's memory
    peak."""

    n_units: int
    n_pools: int
    sink: int
    tails: Int32Array
    heads: Int32Array
    caps: Int32Array
    supply: IntArray

    @property
    def n_nodes(self) -> int:
        return self.sink + 1

    @classmethod
    def of(cls, problem: BatchProblem) -> _Network:
        n_u = problem.n_units
        pools = problem.pools_used
        pool_node = np.zeros(int(pools.max(initial=0)) + 1, dtype=np.int32)
        pool_node[pools] = n_u + np.arange(len(pools))
        sink = n_u + len(pools)
        # Split mode: a group unit is a hub its members may send their one child each to;
        # it supplies nothing itself and has no arc of its own to the sink.
        own_size = np.where(problem.is_hub, 0, problem.size)
        members = np.flatnonzero(problem.parent >= 0)
        tails = np.concatenate(
            [problem.e_unit, np.arange(n_u), np.arange(n_u, sink), members], dtype=np.int32
        )
        heads = np.concatenate(
            [
                pool_node[problem.e_pool],
                np.full(n_u, sink),
                np.full(len(pools), sink),
                problem.parent[members],
            ],
            dtype=np.int32,
        )
        caps = np.concatenate(
            [
                problem.size[problem.e_unit],
                own_size,
                problem.pool_free[pools],
                np.ones(len(members), dtype=np.int64),
            ],
            dtype=np.int32,
        )
        supply = np.zeros(sink + 1, dtype=np.int64)
        supply[:n_u] = own_size
        supply[sink] = -int(own_size.sum())
        return cls(n_u, len(pools), sink, tails, heads, caps, supply)

    def pool_arcs(self, n_edges: int) -> IntArray:
        """The pool->sink arc of each pool of `pools_used`, in that order."""
        first = n_edges + self.n_units
        return np.arange(first, first + self.n_pools)


@dataclass(frozen=True)
class StagePrices:
    """The lexicographic optimum of the flow model under some stage costs, with what a
    place is worth at each stage.

    `prices[k][j]`: what stage k's optimum gives up per place the j-th pool of
    `pools_used` loses (a pool whose places an earlier stage fixed has a price of either
    sign). Together, stage by stage, they are a lexicographic subgradient of the optimum as
    a function of the free places: for every other vector of free places, the optimum is
    at least (lexicographically) `values` plus the prices times the places lost."""

    flows: IntArray  # children sent along each edge
    values: list[int]  # each stage's cost of the optimum
    prices: list[IntArray]
    # The least such prices of each stage (the largest are `prices`), on the face the
    # largest prices of the stages before define: `prices[:k] + [least_prices[k]]` is a
    # subgradient too, sharper where a pool gains places.
    least_prices: list[IntArray]


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
    network = _Network.of(problem)
    budget = budget if budget is not None else _INT64_BUDGET // (network.n_nodes + 1)
    stage_costs = merge_levels(problem, levels or objective_levels(problem), budget)
    flows, _, _ = _stages(problem, network, stage_costs, per_unit, priced=False)
    return flows, len(stage_costs)


def stage_prices(problem: BatchProblem, stage_costs: list[IntArray]) -> StagePrices:
    """The lexicographic optimum under `stage_costs` (per-child costs on the edges, whole
    numbers within the flow's cost budget) with each stage's price of a place per pool
    (`StagePrices`). No split mode: a hub's members share its places."""
    assert not problem.split
    network = _Network.of(problem)
    flows, found, least = _stages(problem, network, stage_costs, PRICED_EDGES_PER_UNIT, priced=True)
    values = [int((flows * cost).sum()) for cost in stage_costs]
    return StagePrices(flows, values, found, least)


def _stages(
    problem: BatchProblem,
    network: _Network,
    stage_costs: list[IntArray],
    per_unit: int,
    priced: bool,
) -> tuple[IntArray, list[IntArray], list[IntArray]]:
    """Each stage optimised over the optimal face of the ones before. With `priced`, also
    each stage's largest and least prices of a place per pool (see `StagePrices`)."""
    assert all(len(cost) == problem.n_edges for cost in stage_costs)  # read by `_arc_costs`
    tails, heads, caps = network.tails, network.heads, network.caps
    n_arcs = len(tails)
    # Every stage's working set starts from the edges each unit prefers by the objective's
    # own order of levels (tier, then score), among the edges the stage may still use.
    preference = problem.edge_preference
    supply = network.supply.copy()
    fixed = np.zeros(n_arcs, dtype=np.int32)  # flow fixed by earlier stages
    active = np.ones(n_arcs, dtype=bool)
    flows = np.zeros(n_arcs, dtype=np.int32)
    pool_arcs = network.pool_arcs(problem.n_edges)
    prices: list[IntArray] = []
    least: list[IntArray] = []
    for k, cost in enumerate(stage_costs):
        arcs = np.flatnonzero(active)
        seed = _best_of_each_unit(preference, problem.e_unit, active[: problem.n_edges], per_unit)
        working, stage_flow, reduced, from_source = _priced_flow(
            network.n_nodes,
            problem.n_edges,
            tails,
            heads,
            caps,
            cost,
            supply,
            arcs,
            seed,
            (flows > fixed)[arcs],
        )
        flows = fixed.copy()
        flows[arcs[working]] += stage_flow.astype(np.int32)
        if priced:
            to_sink, reduced = _sink_distances(network, cost, arcs, flows[arcs], working)
            # A place lost at a pool whose capacity arc is still free to move costs the
            # cheapest way to send one child out of it to the sink; an earlier stage's
            # fixed arc (its places all used) has a price of either sign; an arc an earlier
            # stage forbade (its pool stays unused) none.
            fixed_pool = ~active[pool_arcs] & (fixed[pool_arcs] > 0)
            unused_pool = ~active[pool_arcs] & (fixed[pool_arcs] == 0)
            # The same rule with the potentials the flow priced its arcs with (distances
            # from a source joined to every node): the least price of each place.
            pool_nodes = slice(network.n_units, network.sink)
            for found, per_pool in (
                (prices, to_sink[pool_nodes] - to_sink[network.sink]),
                (least, from_source[network.sink] - from_source[pool_nodes]),
            ):
                price = np.maximum(per_pool, 0)
                price[fixed_pool] = per_pool[fixed_pool]
                price[unused_pool] = 0
                found.append(price)
        if k == len(stage_costs) - 1:
            break
        # Restrict the next stage to this stage's optimal face.
        saturate = arcs[reduced < 0]
        forbid = arcs[reduced > 0]
        fixed[saturate] = caps[saturate]
        moved = caps[saturate].astype(np.int64)  # ufunc.at's fast path takes no casting
        np.subtract.at(supply, tails[saturate], moved)
        np.add.at(supply, heads[saturate], moved)
        active[saturate] = False
        active[forbid] = False
    return flows[: problem.n_edges].astype(np.int64), prices, least


def _sink_distances(
    network: _Network, cost: IntArray, arcs: IntArray, flow: Int32Array, working: IntArray
) -> tuple[IntArray, IntArray]:
    """Cost of the cheapest path from each node to the sink in the residual network of an
    optimal flow on `arcs` (`flow` on each): node potentials (negated) that are optimal
    duals and give each capacity arc its largest optimal price, the cost of giving up one
    of its places. Worked out on the `working` arcs (positions in `arcs`), then checked on
    all of `arcs`, any arc that breaks the optimality condition added and the distances
    worked out again. Returns the distances and the reduced costs of `arcs` under them.

    A node no path leaves (a pool with no place left and nobody in it, a child who can
    only reach such pools) gets the least value its residual arcs in allow: a place freed
    there is worth what the children who could take it would gain."""
    inside = np.asarray(working, dtype=np.int64)
    while True:
        part = arcs[inside]
        part_flow = flow[inside]
        starts, ends, step = _residual(
            network.tails[part],
            network.heads[part],
            _arc_costs(cost, part),
            part_flow < network.caps[part],
            part_flow > 0,
        )
        dist = _bellman_ford(network.n_nodes, network.sink, starts, ends, step)
        reduced = _reduced_costs(arcs, cost, -dist, network.tails, network.heads)
        broken = _broken(network.caps, arcs, flow, reduced)
        outside = np.setdiff1d(broken, inside, assume_unique=True)
        if not len(outside):
            if len(broken):  # only a flow that was not optimal gets here
                raise RuntimeError("no optimal prices: the flow was not optimal")
            return dist, reduced
        del reduced  # arc-sized: not to be held beside the next round's
        inside = np.union1d(inside, outside)


def _broken(caps: Int32Array, arcs: IntArray, flow: Int32Array, reduced: IntArray) -> IntArray:
    """Positions in `arcs` of the arcs whose reduced cost breaks the optimality condition
    (negative with room, positive with flow), a slice of arcs at a time: arc-sized
    temporaries were the proof's memory peak."""
    out = [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(arcs), _SLICE):
        room = flow[start : start + _SLICE] < caps[arcs[start : start + _SLICE]]
        part = reduced[start : start + _SLICE]
        bad = (room & (part < 0)) | ((flow[start : start + _SLICE] > 0) & (part > 0))
        out.append(start + np.flatnonzero(bad))
    return np.concatenate(out)


_UNREACHED = np.int64(2**62)


def _bellman_ford(
    n_nodes: int, target: int, starts: IntArray, ends: IntArray, step: IntArray
) -> IntArray:
    """Distances to `target` along residual arcs; then, for the nodes that cannot reach
    it, the least values that keep every residual arc's reduced cost non-negative
    (dist[start] <= step + dist[end]: a lower bound on dist[end] from each arc into it,
    raised along chains of such nodes). No negative cycle exists at an optimum."""
    dist = np.full(n_nodes, _UNREACHED, dtype=np.int64)
    dist[target] = 0
    for _ in range(n_nodes + 1):
        reach = dist[ends]
        new = dist.copy()
        np.minimum.at(new, starts, np.where(reach < _UNREACHED, reach + step, _UNREACHED))
        if np.array_equal(new, dist):
            break
        dist = new
    else:
        raise RuntimeError("negative cycle in the residual graph: the flow was not optimal")
    lost = dist == _UNREACHED
    if not lost.any():
        return dist
    into = lost[ends]
    starts, ends, step = starts[into], ends[into], step[into]
    dist[lost] = -_UNREACHED
    for _ in range(2):
        for _ in range(n_nodes + 1):
            known = dist[starts] > -_UNREACHED
            new = dist.copy()
            np.maximum.at(new, ends[known], dist[starts[known]] - step[known])
            if np.array_equal(new, dist):
                break
            dist = new
        # A node no known node leads into: nothing bounds it from below, and the nodes
        # it leads into are bounded by it in the second pass.
        dist[dist == -_UNREACHED] = 0
    return dist


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
