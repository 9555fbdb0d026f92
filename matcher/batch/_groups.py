"""The groups' model of the groups' proof (`matcher.batch._proof`) in CP-SAT: one Boolean
per group edge, each group at most one home, each home's places; solved a level at a time,
several levels in one solve where small weights merge them exactly."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.batch._problem import BatchProblem
from matcher.batch._solution import Clock, set_objective
from matcher.tables import IntArray

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

__all__ = [
    "PROOF_STAGE_SECONDS",
    "GroupsModel",
    "balanced_digits",
    "dominated",
    "level_ranges",
    "solves",
]

# Seconds for one solve of the groups' model (stress: 0.3-5 s each, all proven).
PROOF_STAGE_SECONDS = 8.0
# Largest merged cost total CP-SAT is asked to prove on (stress: the four levels after
# "placed" merge to 3e10). National seed 7's five levels merged to 7e11: not proven in
# 8 s; "placed" alone and the other four merged: 0.3 s.
_MERGED_MOST = 2**36


def level_ranges(units: IntArray, costs: list[IntArray]) -> tuple[list[int], list[int]]:
    """Per level, the least and the largest total a placement of the groups can have (each
    group at one of its edges or none)."""
    low, high = [], []
    for cost in costs:
        least = np.zeros(int(units.max(initial=0)) + 1, dtype=np.int64)
        most = np.zeros_like(least)
        np.minimum.at(least, units, cost)
        np.maximum.at(most, units, cost)
        low.append(int(least.sum()))
        high.append(int(most.sum()))
    return low, high


def _inner_weights(low: list[int], high: list[int]) -> list[int]:
    """Weights that merge levels of the groups' model exactly: one unit of each level
    outweighs the range of all the levels after it."""
    weights = [1]
    for k in range(len(low) - 1, 0, -1):
        weights.insert(0, weights[0] * (high[k] - low[k] + 1))
    return weights


def solves(low: list[int], high: list[int]) -> list[list[int]]:
    """The levels of the groups' model in solves: the last ones merged (`_inner_weights`)
    as long as the merged costs stay small enough for CP-SAT to prove on (its LP works in
    doubles), each earlier one alone."""
    first = len(low) - 1
    while first > 0:
        weights = _inner_weights(low[first - 1 :], high[first - 1 :])
        biggest = sum(
            w * max(abs(lo), abs(hi))
            for w, lo, hi in zip(weights, low[first - 1 :], high[first - 1 :], strict=True)
        )
        if biggest >= _MERGED_MOST:
            break
        first -= 1
    return [[k] for k in range(first)] + [list(range(first, len(low)))]


class GroupsModel:
    """The groups' model in CP-SAT (`_groups_model`), solved a level at a time."""

    def __init__(
        self,
        problem: BatchProblem,
        edges: IntArray,
        workers: int,
        seed: int,
        free: IntArray | None = None,
    ) -> None:
        """`free`: places per pool for the groups (default: the problem's)."""
        from ortools.sat.python import cp_model

        self.problem = problem
        self.edges = edges
        self.model, self.x = _groups_model(
            problem, edges, problem.pool_free if free is None else free
        )
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = workers
        self.solver.parameters.random_seed = seed
        # Measured on the stress instance: the tier levels were not proven in 20 s at the
        # default linearization, and in 2-3 s each at level 2.
        self.solver.parameters.linearization_level = 2
        # No probing and no symmetry search: each solve re-presolves the whole model, and
        # on the stress instance these took most of it (a round 11.8 -> 7.5 s, the next
        # round 8.3 -> 4.3 s; the same optima).
        self.solver.parameters.cp_model_probing_level = 0
        self.solver.parameters.symmetry_level = 0
        self.theta: cp_model.IntVar | None = None  # the singles' score, bounded by cuts
        self.cuts: list[tuple[int, IntArray]] = []  # (base, price per edge) of theta's cuts
        self.last_bound: list[int] = []  # CP-SAT's bound at a level it did not prove
        self.hint: list[int] = []
        self.score_proven = False  # whether the last score stage proved its placement

    def fix(self, cost: IntArray, value: int) -> None:
        used = np.flatnonzero(cost)
        self.model.add(self._sum(used, cost[used].tolist()) == value)

    def levels(
        self, costs: list[IntArray], groups: IntArray, clock: Clock, low: list[int], high: list[int]
    ) -> tuple[list[int], IntArray | None]:
        """The levels minimised in turn, each at its optimum kept as a constraint: the
        optima of the levels proven, in order (`last_bound` holds CP-SAT's bound at the
        next one, if it gave one), and the last placement found (edge per group unit).

        `low` and `high` (`level_ranges` of `costs`) let `solves` put several levels in one
        solve where weights that dominate their ranges stay small: each solve loads and
        presolves the whole model again (2-3 s on the stress instance, even for a level of
        49 edges)."""
        self.start_from(groups)
        values: list[int] = []
        found: IntArray | None = None
        for stage in solves(low, high):
            weights = _inner_weights([low[k] for k in stage], [high[k] for k in stage])
            cost = sum(w * costs[k] for w, k in zip(weights, stage, strict=True))
            assert isinstance(cost, np.ndarray)
            used = np.flatnonzero(cost)
            reached, proven = self._minimize(used.tolist(), cost[used].tolist(), clock)
            if reached is None:
                break
            found = self._placement()
            if not proven:
                if len(stage) > 1:
                    self.last_bound = []  # a bound on merged levels says little per level
                break
            chosen = np.asarray(self.hint[: len(self.x)], dtype=np.int64)
            for k in stage:
                values.append(int(costs[k] @ chosen))
                self.fix(costs[k], values[-1])
        return values, found

    def start_from(self, groups: IntArray) -> None:
        """Hint the next solve with `groups` (edge per group unit, -1 unplaced)."""
        self.hint = np.isin(self.edges, groups[groups >= 0]).astype(np.int64).tolist()

    def least(self, cost: IntArray, clock: Clock) -> IntArray | None:
        """The placement (edge per group unit) of the least `cost` per group edge, from the
        hint; None if none was found in time."""
        used = np.flatnonzero(cost)
        reached, _ = self._minimize(used.tolist(), cost[used].tolist(), clock)
        return None if reached is None else self._placement()

    def add_score_cut(self, base: int, price: IntArray) -> None:
        """theta >= base + price . x: the singles' score, as a cut bounds it."""
        if self.theta is None:
            self.theta = self.model.new_int_var(-(2**50), 2**50, "singles_score")
        used = np.flatnonzero(price)
        self.model.add(self.theta - self._sum(used, price[used].tolist()) >= base)
        self.cuts.append((base, price))

    def score(self, own: IntArray, clock: Clock) -> tuple[int | None, IntArray | None]:
        """The least groups' score plus singles' score under the cuts (a bound on the score
        of every count-optimal packing), and the placement found."""
        assert self.theta is not None
        used = np.flatnonzero(own)
        variables = [self.x[e].index for e in used.tolist()] + [self.theta.index]
        weights = [*own[used].tolist(), 1]
        # theta at the least value the cuts allow at the hint: a complete, feasible hint
        # (with 0 there CP-SAT repaired it first; stress: 0.3 s a score stage)
        at_hint = np.asarray(self.hint[: len(self.x)], dtype=np.int64)
        theta = max(base + int(price @ at_hint) for base, price in self.cuts)
        self.hint = [*self.hint[: len(self.x)], theta]
        reached, proven = self._minimize_vars(variables, weights, clock)
        placement = self._placement() if reached is not None else None
        self.score_proven = proven
        if proven:
            return reached, placement
        return (self.last_bound[0] if self.last_bound else None), placement

    def _minimize(
        self, used: list[int], weights: list[int], clock: Clock
    ) -> tuple[int | None, bool]:
        return self._minimize_vars([self.x[e].index for e in used], weights, clock)

    def _minimize_vars(
        self, variables: list[int], weights: list[int], clock: Clock
    ) -> tuple[int | None, bool]:
        """The minimum of a weighted sum (None: no solution in time) and whether it is
        proven; where it is not, `last_bound` gets CP-SAT's bound if it is one."""
        from ortools.sat.python import cp_model

        self.last_bound = []
        if not variables:
            return 0, True
        set_objective(self.model, variables, weights)
        self.model.clear_hints()
        hinted = [v.index for v in self.x] + ([self.theta.index] if self.theta is not None else [])
        self.model.proto.solution_hint.vars.extend(hinted[: len(self.hint)])
        self.model.proto.solution_hint.values.extend(self.hint[: len(hinted)])
        stage = Clock(_stage_seconds(clock), clock.deterministic, parent=clock)
        stage.arm(self.solver)
        status = self.solver.solve(self.model)
        stage.charge(self.solver)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, False
        solution = list(self.solver.response_proto.solution)
        self.hint = solution[: len(hinted)]
        reached = round(self.solver.objective_value)
        if status == cp_model.OPTIMAL:
            return reached, True
        # CP-SAT's bound, where it is one: a stage stopped early has reported a bound
        # above its own solution (0 against -196 on the stress instance).
        lowest = self.solver.best_objective_bound
        if math.isfinite(lowest) and lowest <= self.solver.objective_value:
            self.last_bound = [math.ceil(lowest)]
        return reached, False

    def _sum(self, used: IntArray | list[int], weights: list[int]) -> Any:
        from ortools.sat.python import cp_model

        return cp_model.LinearExpr.weighted_sum([self.x[int(e)] for e in used], weights)

    def _placement(self) -> IntArray:
        return _placement(self.problem, self.edges, self.hint[: len(self.x)])


def _stage_seconds(clock: Clock) -> float:
    left = clock.remaining()
    return PROOF_STAGE_SECONDS if left is None else min(left, PROOF_STAGE_SECONDS)


def _groups_model(
    problem: BatchProblem, edges: IntArray, free_places: IntArray
) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """One Boolean per group edge: each group at most one home, each home's places. Two
    groups that could not share a home both get a clique constraint there: the places alone
    let the LP put half of each in it, and CP-SAT then proves little."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{e}") for e in range(len(edges))]
    units = problem.e_unit[edges]
    size = problem.size[units]
    for group in _runs(units):
        if len(group) > 1:
            model.add_at_most_one(x[k] for k in group.tolist())
    pools = problem.e_pool[edges]
    for home in _runs(pools):
        free = int(free_places[pools[home[0]]])
        if int(size[home].sum()) <= free:
            continue
        model.add(
            cp_model.LinearExpr.weighted_sum([x[k] for k in home.tolist()], size[home].tolist())
            <= free
        )
        large = home[2 * size[home] > free]
        if len(large) > 1:
            model.add_at_most_one(x[k] for k in large.tolist())
    return model, x


def _runs(keys: IntArray) -> list[IntArray]:
    """Positions of `keys` grouped by value."""
    if not len(keys):
        return []
    order = np.argsort(keys, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(keys[order]) != 0])
    return np.split(order, starts[1:])


def _placement(problem: BatchProblem, edges: IntArray, values: list[int]) -> IntArray:
    """Edge per group unit (in `group_units` order) from the model's values."""
    group_units = np.flatnonzero(problem.size > 1)
    out = np.full(len(group_units), -1, dtype=np.int64)
    taken = edges[np.flatnonzero(values)]
    out[np.searchsorted(group_units, problem.e_unit[taken])] = taken
    return out


def balanced_digits(value: IntArray, weights: list[int]) -> list[IntArray]:
    """`value` written as sum(weights[k] * digit[k]), each digit as small as can be (the
    remainder at each weight within half of it)."""
    rest = value.astype(np.int64)
    digits = []
    for weight in weights:
        digit = (rest + weight // 2) // weight
        digits.append(digit)
        rest = rest - digit * weight
    assert not rest.any()
    return digits


def dominated(weights: list[int], low: list[int], high: list[int]) -> bool:
    """Whether one unit of each level outweighs everything the later levels can change, so
    that the merged optimum is the level-by-level one."""
    return all(
        weights[k] > sum(weights[j] * (high[j] - low[j]) for j in range(k + 1, len(weights)))
        for k in range(len(weights))
    )
