"""Sibling groups: the flow relaxation repaired with CP-SAT, then the whole model."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.batch._ahead import AHEAD_FROM_EDGES, Ahead
from matcher.batch._flow import lexicographic_flow
from matcher.batch._greedy import solve_greedy
from matcher.batch._problem import (
    AFTER_PLACED,
    BatchProblem,
    Objective,
    merge_levels,
    objective_levels,
    objective_of,
)
from matcher.batch._proof import GroupProof, group_bound
from matcher.batch._solution import (
    FEASIBLE,
    OPTIMAL,
    Clock,
    Solution,
    gap_to,
    relaxation_bound,
    set_objective,
)
from matcher.tables import IntArray

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

__all__ = ["FULL_MODEL_EDGES", "import_solvers", "solve_cpsat"]

# A repair neighbourhood is a heuristic improvement (the proof is the bound), so each CP-SAT
# solve in it (its stages; then, if unproven, the groups of its polish) gets a few seconds, not
# the whole time limit (national: 200 units improve in 3-4 s, or not at all). The flows of the
# polish are not counted: they take milliseconds on a neighbourhood.
REPAIR_SECONDS = 3.0
# ... and is skipped when its homes have more edges than CP-SAT can presolve in those seconds
# (measured, national: 5k edges improve in 4 s; 86k edges find nothing in 4 s).
WIDE_REPAIR_EDGES = 20_000
# Above this many edges a neighbourhood's score stage is left to the polish: nationally that
# stage found no solution in 3 s on 7,273 edges. Below it the stage is exact, which the polish
# (a local search: it never moves a group and a single together) is not.
SCORE_STAGE_EDGES = 5_000
# Above this many edges the whole packing model is too large for CP-SAT to improve on the
# decomposition in seconds (measured: no first solution in 28 s at 523k edges).
FULL_MODEL_EDGES = 60_000


def import_solvers() -> None:
    """Load OR-Tools' CP-SAT module (0.5 s: it imports pandas) and min-cost flow (60 ms)
    now. `run_match` has it done while forked children build the edges, when the cohort
    has sibling groups."""
    import ortools.graph.python.min_cost_flow
    import ortools.sat.python.cp_model  # noqa: F401


def _cpsat_staged(
    problem: BatchProblem,
    clock: Clock,
    workers: int,
    seed: int,
    hint: IntArray | None = None,
    counts_only: bool = False,
) -> tuple[IntArray | None, bool, list[str]]:
    """The whole packing model in CP-SAT, one stage per (merged) level; each stage keeps the
    previous stage's optimum as a constraint (`counts_only`: the count levels alone, the
    score left to the caller, and the answer never reported as proven). Returns the chosen
    edges (None if no stage found a solution in time: a hint is not returned as one),
    whether every stage was proven optimal, and notes."""
    from ortools.sat.python import cp_model  # 0.5 s with pandas: see `import_solvers`

    # Built with weighted sums from arrays: Python sums of terms cost 1.3 s on a 32,000-edge
    # neighbourhood (0.3 s nationally per model), more than CP-SAT's own presolve.
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{e}") for e in range(problem.n_edges)]
    edges = problem.edges_of_unit()
    # Each child is placed at most once, by its own unit or (split mode) its group unit.
    for cover in problem.covers():
        ids = np.concatenate([edges[u] for u in cover])
        if len(ids) > 1:
            model.add_at_most_one(x[k] for k in ids.tolist())
    size_e = problem.size[problem.e_unit]
    by_pool = np.argsort(problem.e_pool, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(problem.e_pool[by_pool]) != 0])
    for ks in np.split(by_pool, starts[1:]) if len(by_pool) else []:
        free = int(problem.pool_free[problem.e_pool[ks[0]]])
        if int(size_e[ks].sum()) > free:
            model.add(_weighted(x, ks, size_e[ks]) <= free)
    levels = objective_levels(problem)
    # Count levels merged with proven weights; the score level is its own stage, so that
    # CP-SAT's objective coefficients stay small.
    stages = [*merge_levels(problem, levels[:-1], 2**50), levels[-1]]
    if counts_only and len(stages) > 1:
        stages = stages[:-1]
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    # The LP at every node: a score stage under its count stages' equalities went unproven
    # for 3 s on 465 edges at the default level, and was proven in 0.05 s at this one
    # (national seed 9's near repair).
    solver.parameters.linearization_level = 2
    values = None if hint is None else _edge_values(problem, hint)
    solved = False  # the hint alone is no answer: the caller has it already
    proven = not counts_only
    notes: list[str] = []
    for k, cost in enumerate(stages):
        used = np.flatnonzero(cost)
        weights = cost[used] * size_e[used]
        expr = _weighted(x, used, weights)
        set_objective(model, [x[e].index for e in used.tolist()], weights.tolist())
        model.clear_hints()
        if values is not None:
            model.proto.solution_hint.vars.extend(v.index for v in x)
            model.proto.solution_hint.values.extend(values)
        clock.arm(solver)
        status = solver.solve(model)
        clock.charge(solver)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            notes.append(f"CP-SAT stage {k + 1}: no solution within the time limit")
            proven = False
            break
        values = list(solver.response_proto.solution)[: problem.n_edges]
        solved = True
        if status != cp_model.OPTIMAL:
            notes.append(f"CP-SAT stage {k + 1}: not proven optimal within the time limit")
            proven = False
            break
        # The stage's optimum in exact integers: the float objective value loses units past
        # 2**53, and merged levels come near that.
        reached = sum(w for w, e in zip(weights.tolist(), used.tolist(), strict=True) if values[e])
        model.add(expr == reached)
    if not solved or values is None:
        return None, False, notes
    chosen = np.full(problem.n_units, -1, dtype=np.int64)
    taken = np.flatnonzero(values)
    chosen[problem.e_unit[taken]] = taken
    return chosen, proven, notes


def _weighted(x: list[cp_model.IntVar], edges: IntArray, weights: IntArray) -> Any:
    """The sum of weights[i] * x[edges[i]], as one CP-SAT expression."""
    from ortools.sat.python import cp_model

    return cp_model.LinearExpr.weighted_sum([x[e] for e in edges.tolist()], weights.tolist())


def _edge_values(problem: BatchProblem, chosen: IntArray) -> list[int]:
    values = [0] * problem.n_edges
    for e in chosen[chosen >= 0]:
        values[int(e)] = 1
    return values


def _repair(
    problem: BatchProblem,
    flows: IntArray,
    clock: Clock,
    workers: int,
    seed: int,
    bound: Objective,
    wide: bool = True,
    hubs_out: bool = False,
    near: IntArray | None = None,
) -> tuple[IntArray, list[str]]:
    """Keep every unit the relaxation placed whole (or left out whole); solve the units it
    split, together with the units competing for their homes, exactly with CP-SAT.

    Two neighbourhoods, small first: the rivals at the homes where the relaxation sent the
    split units' children, then the rivals at every home a split unit may take (hinted
    with the first answer; `near` is that answer when an earlier call found it). The second
    runs only while the first falls short of the bound; the better answer is kept.

    A large wide neighbourhood's count levels go to CP-SAT and its score to `_polish`
    (`SCORE_STAGE_EDGES`): its score stage found no solution in 3 s nationally, and an
    unfinished stage keeps the count stage's answer, whose score nobody minimised (national:
    21,000 km-equivalents worse than polished). Any neighbourhood left unproven is polished."""
    whole = flows == problem.size[problem.e_unit]
    base = np.full(problem.n_units, -1, dtype=np.int64)
    base[problem.e_unit[whole]] = np.flatnonzero(whole)
    placed_children = np.zeros(problem.n_units, dtype=np.int64)
    np.add.at(placed_children, problem.e_unit, flows)
    broken = (base < 0) & (placed_children > 0)
    if not broken.any():
        return base, []
    broken = _with_members(problem, broken)
    # Split mode: a group unit the relaxation filled only in part may be left out, so that
    # its members go alone (`hubs_out`).
    dropped = broken & problem.is_hub if hubs_out else np.zeros(problem.n_units, dtype=bool)
    broken_units = np.flatnonzero(broken)
    of_broken = np.isin(problem.e_unit, broken_units)
    neighbourhoods = []
    if near is None:
        neighbourhoods.append(("near", np.unique(problem.e_pool[of_broken & (flows > 0)])))
    if wide:
        neighbourhoods.append(("wide", np.unique(problem.e_pool[of_broken])))
    best = near
    notes: list[str] = []
    for name, homes in neighbourhoods:
        if best is not None and (
            clock.expired() or objective_of(problem, best).key() >= bound.key()
        ):
            break
        chosen = base.copy()
        rivals = (chosen >= 0) & np.isin(problem.e_pool[np.maximum(chosen, 0)], homes)
        free_units = np.flatnonzero(_with_members(problem, broken | rivals) & ~dropped)
        chosen[free_units] = -1
        sub, origin = problem.subset(free_units, _places_left(problem, chosen))
        if best is not None and sub.n_edges > WIDE_REPAIR_EDGES:
            notes.append(f"repair ({name}): not tried, {sub.n_edges} edges")
            break
        hint = None if best is None else _as_sub_edges(best[free_units], origin)
        counts_only = name == "wide" and sub.n_edges > SCORE_STAGE_EDGES
        sub_chosen, proven, more = _cpsat_staged(
            sub, _budget(clock), workers, seed, hint=hint, counts_only=counts_only
        )
        notes.append(
            f"repair ({name}): {len(broken_units)} units split by the relaxation, "
            f"{len(free_units)} units ({sub.n_edges} edges) re-solved"
        )
        notes += [f"repair ({name}): {n}" for n in more]
        if sub_chosen is None:
            if best is not None:
                continue
            sub_chosen = solve_greedy(sub).chosen
            notes.append(f"repair ({name}): greedy fallback")
        if not proven:
            sub_chosen = _polish(sub, sub_chosen, clock, workers, seed)
        _lift(chosen, free_units, origin, sub_chosen)
        if best is None or objective_of(problem, chosen).key() > objective_of(problem, best).key():
            best = chosen
    assert best is not None
    return best, notes


def _budget(clock: Clock) -> Clock:
    """A few seconds of `clock` for one neighbourhood: a stage not proven in them keeps its
    best answer, and the proof is the bound's business anyway. Charged to `clock` as used."""
    remaining = clock.remaining()
    return Clock(
        REPAIR_SECONDS if remaining is None else min(remaining, REPAIR_SECONDS),
        clock.deterministic,
        parent=clock,
    )


def _places_left(problem: BatchProblem, chosen: IntArray) -> IntArray:
    """Free places per pool after the units placed in `chosen`."""
    left = problem.pool_free.copy()
    used = chosen[chosen >= 0]
    np.subtract.at(left, problem.e_pool[used], problem.size[problem.e_unit[used]])
    return left


def _as_sub_edges(edges: IntArray, origin: IntArray) -> IntArray:
    """Edges of the full problem (-1: none) as edges of a sub-problem whose edges came from
    `origin` (sorted); -1 where the sub-problem lacks the edge."""
    if not len(origin):
        return np.full(len(edges), -1, dtype=np.int64)
    at = np.searchsorted(origin, np.maximum(edges, 0))
    inside = at < len(origin)
    ok = (edges >= 0) & inside & (origin[np.where(inside, at, 0)] == edges)
    return np.where(ok, at, -1)


def _lift(chosen: IntArray, units: IntArray, origin: IntArray, sub_chosen: IntArray) -> IntArray:
    """`chosen` (changed in place and returned) with a sub-problem's answer for its `units`,
    mapped back through `origin` (the full problem's edge of each sub-problem edge)."""
    placed = sub_chosen >= 0
    chosen[units[placed]] = origin[sub_chosen[placed]]
    return chosen


def _singles(problem: BatchProblem) -> np.ndarray:
    """Units of one child that share it with no other unit (not a group, member or hub)."""
    return (problem.size == 1) & (problem.parent < 0) & ~problem.is_hub


def _polish(
    problem: BatchProblem, chosen: IntArray, clock: Clock, workers: int, seed: int
) -> IntArray:
    """`chosen` improved by two exact moves, each never worse: the single children by the
    lexicographic flow with every other unit fixed (exact for them given the groups), then
    the other units by CP-SAT with the single children fixed, then the singles again."""
    singles = _singles(problem)
    chosen = _place_singles(problem, chosen, singles)
    others = np.flatnonzero(~singles)
    if not len(others) or clock.expired():
        return chosen
    fixed = np.where(singles, chosen, -1)
    sub, origin = problem.subset(others, _places_left(problem, fixed))
    hint = _as_sub_edges(chosen[others], origin)
    sub_chosen, _, _ = _cpsat_staged(sub, _budget(clock), workers, seed, hint=hint)
    if sub_chosen is None:
        return chosen
    out = _lift(fixed, others, origin, sub_chosen)
    if objective_of(problem, out).key() <= objective_of(problem, chosen).key():
        return chosen
    return _place_singles(problem, out, singles)


def _place_singles(problem: BatchProblem, chosen: IntArray, singles: np.ndarray) -> IntArray:
    """`chosen` with the `singles` re-placed by the lexicographic flow on the places the
    other units leave."""
    units = np.flatnonzero(singles)
    if not len(units):
        return chosen
    out = np.where(singles, -1, chosen)
    sub, origin = problem.subset(units, _places_left(problem, out))
    if not sub.n_edges:
        return chosen
    flows, _ = lexicographic_flow(sub)
    used = np.flatnonzero(flows > 0)
    out[units[sub.e_unit[used]]] = origin[used]
    # The flow is optimal for the singles and their old places are one feasible answer, so
    # this never loses; the check keeps a numerical surprise from costing a child.
    if objective_of(problem, out).key() < objective_of(problem, chosen).key():
        return chosen
    return out


def _with_members(problem: BatchProblem, units: np.ndarray) -> np.ndarray:
    """Add the members of every group unit in `units` (split mode), so that a group unit
    re-solved never shares a child with a member kept in place."""
    if not problem.split:
        return units
    out = units.copy()
    members = np.flatnonzero(problem.parent >= 0)
    out[members[units[problem.parent[members]]]] = True
    return out


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
       are re-solved exactly with CP-SAT (`_repair`: near, then wide neighbourhood; also from
       the relaxation without the together level). If the result meets the bound it is
       OPTIMAL.
    3. Otherwise the groups' proof (`matcher.batch._proof`; where it applies, in place of
       the wide neighbourhood and the second rounding): the groups solved exactly against
       the singles' flow priced per place, a sharper bound and maybe a better answer.
    4. Otherwise, on models up to FULL_MODEL_EDGES, the whole model goes to CP-SAT, hinted
       with that result, for the time left;
       the better of the two is returned, OPTIMAL if CP-SAT proved it, else FEASIBLE with the
       relaxation bound and the gap.
    """
    start = time.perf_counter()
    clock = Clock(time_limit, deterministic)
    # Where the groups' proof applies, its model of all the groups does what the wide
    # neighbourhood and the second rounding would, and more (national: 15 more groups kept
    # together): neither runs.
    proof = GroupProof.of(problem)
    second = _SecondRelaxation.plan(problem) if proof is None else None
    try:
        return _solve_cpsat(problem, clock, start, workers, seed, second, proof)
    finally:
        if second is not None:
            second.close()


class _SecondRelaxation:
    """The flow relaxation without the together level: the repair's second basis when the
    first falls short of the bound. On a large problem it starts at once in a forked child
    (`Ahead`), on the other core while the first relaxation runs here, and is dropped if the
    first repair meets the bound; the flows are the same either way."""

    def __init__(self, problem: BatchProblem) -> None:
        self.problem = problem
        levels = objective_levels(problem)
        together = 1 if problem.together_after == AFTER_PLACED else 4
        self.levels = [level for k, level in enumerate(levels) if k != together]
        self.ahead = (
            Ahead.start(partial(_flows_only, problem, self.levels))
            if problem.n_edges >= AHEAD_FROM_EDGES
            else None
        )

    @classmethod
    def plan(cls, problem: BatchProblem) -> _SecondRelaxation | None:
        """None where it is never needed: no group to keep together, or protected groups
        (their level comes first, and the relaxation keeps them whole)."""
        if problem.together_scale <= 1 or problem.protected.any():
            return None
        return cls(problem)

    def flows(self, wait: float | None = None) -> IntArray:
        """The flows, from the child if it answers within `wait` seconds, else worked out
        here (a child that hangs, say on a lock it inherited, costs that wait, not the run)."""
        found = self.ahead.result(wait) if self.ahead is not None else None
        return found if found is not None else _flows_only(self.problem, self.levels)

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead.cancel()


def _flows_only(problem: BatchProblem, levels: list[IntArray]) -> IntArray:
    return lexicographic_flow(problem, levels=levels)[0]


def _solve_cpsat(
    problem: BatchProblem,
    clock: Clock,
    start: float,
    workers: int,
    seed: int,
    second: _SecondRelaxation | None,
    proof: GroupProof | None,
) -> Solution:
    first_started = time.perf_counter()
    flows, stages = lexicographic_flow(problem)
    # The child's relaxation is as large as this one: twice its time and then some is ample.
    # (Not capped by the time limit: the limit bounds the CP-SAT stages, and a child given
    # up would leave the same relaxation to be worked out here, later still.)
    ahead_wait = 2 * (time.perf_counter() - first_started) + 10.0
    bound = relaxation_bound(problem, flows)
    notes: list[str] = []
    # Split mode: a group whose hub the relaxation fills only in part goes as its members.
    chosen, more = _repair(
        problem, flows, clock, workers, seed, bound, wide=False, hubs_out=problem.split
    )
    notes += more
    basis: IntArray = flows
    near: IntArray | None = chosen
    if objective_of(problem, chosen).key() < bound.key() and second is not None:
        # The relaxation's reward for whole groups draws groups into homes where they end
        # up split, and rounding them costs children. The same relaxation without that level
        # rounds differently (national: 3 more children placed); the better rounding is kept.
        singles = second.flows(ahead_wait)
        other, more = _repair(problem, singles, clock, workers, seed, bound, wide=False)
        if objective_of(problem, other).key() > objective_of(problem, chosen).key():
            # (without hubs_out: that near answer is the wide repair's start in no-split mode)
            chosen, basis, near = other, singles, (None if problem.split else other)
            notes += [f"{n} (relaxation without the together level: kept)" for n in more]
    if proof is None and objective_of(problem, chosen).key() < bound.key() and not clock.expired():
        other, more = _repair(
            problem, basis, clock, workers, seed, bound, hubs_out=problem.split, near=near
        )
        notes += [n for n in more if not n.startswith("repair (near)")]
        if objective_of(problem, other).key() > objective_of(problem, chosen).key():
            chosen = other
    if proof is not None and objective_of(problem, chosen).key() < bound.key():
        # The relaxation's bound may be the weak side: a sharper one from the groups alone,
        # against the singles' flow priced per place (and maybe a better answer on the way).
        chosen, sharper, more = group_bound(proof, chosen, clock, workers, seed)
        notes += more
        if sharper is not None and sharper.key() < bound.key():
            bound = sharper
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
