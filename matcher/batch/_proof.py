"""A bound for sibling groups beyond the flow relaxation: the single children's flow, priced
per place, cut into a small exact model of the groups (Benders cuts, in rounds).

Why: the flow relaxation lets a group split across homes, so its bound can sit children
above every packing (stress: 11 children, 0.228 %) while the answer is in fact optimal.
Single children are the flow's business either way: given where the groups go, their
lexicographic optimum is a min-cost flow, exact. So the problem is

    min over group placements x of  groups(x) + singles(places left by x)

and `singles` is a convex function of the places left, lexicographically: around any
placement it is at least its value around the answer's placement plus the flow's price of
each place times the places that placement takes away (`matcher.batch._flow.stage_prices`).
Put that cut in place of `singles` and what is left is a model of the groups alone (518
units and 28,000 edges on the stress instance, against 4 million edges in all), solved
exactly by CP-SAT:
its optimum bounds every packing from above. Where it meets the answer, the answer is proven
optimal; where the groups' model finds a better placement, that placement with the singles'
flow around it is a better answer, and the next round cuts there.

The count levels are one merged cost in the flow (`merge_levels`), but CP-SAT proves nothing
on costs of 10^17: the cut's prices are written back as one whole number per level (balanced
digits of the merged weights), the groups' model is solved level by level, and the merged
optimum is the level-by-level one because the weights still dominate the levels' ranges in
that model (checked; no bound is claimed otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from matcher.batch._answers import Answers, Singles
from matcher.batch._flow import stage_prices
from matcher.batch._groups import GroupsModel, balanced_digits, dominated, level_ranges
from matcher.batch._problem import (
    AFTER_TIERS,
    BatchProblem,
    Objective,
    level_range,
    level_totals,
    merge_levels,
    objective_levels,
    objective_of,
)
from matcher.batch._solution import Clock, gap_level, gap_to
from matcher.tables import IntArray

__all__ = ["GAP_PROGRESS", "GAP_REACH", "GAP_TARGET", "PROOF_ROUNDS", "GroupProof", "group_bound"]

# Rounds of cut, groups' model, and the singles' flow around its placement, at most. On the
# stress instance the first round proves the count levels and finds a better placement (gap
# 0.057 %), the second tightens the score level (0.023 %); the rules below end most runs
# sooner (a round after the first takes 3.5-4 s there).
PROOF_ROUNDS = 12
# Another round only while the gap is above the target (the 0.05 %) and, in a run
# without a time limit, within reach of it: a round closed 55-60 % of the stress instances'
# 0.057-0.060 % (for 5-7 s), but only 8-25 % of national gaps of 0.2-0.3 % (national seed
# 7: 0.199 -> 0.153 -> 0.141 % for 1.4 s a round, the run 3.3 -> 6 s).
GAP_TARGET = 0.0005
GAP_REACH = 0.001
# A round that closes less than this share of the gap it started from is the last (stress
# seed 4: 0.165 -> 0.089 -> 0.079 %, then 10 % a round; seeds 2 and 3 close 55-60 %).
GAP_PROGRESS = 0.25
# Seconds for the whole proof at most (stress: 12-18 s, national: 1.5-2.5 s). With
# `--time-limit 25` the stress run's wall time stays within 25 s: load and edges take 2 s,
# the relaxation and near repair 2.5 s, and the last round may run half a round over.
PROOF_SECONDS = 18.0
# OR-Tools' min-cost flow scales costs by the number of nodes; this keeps the merged count
# cost of the whole problem inside int64 for any sub-network of it.
_FLOW_BUDGET = 2**61


def group_bound(
    plan: GroupProof, chosen: IntArray, clock: Clock, workers: int, seed: int
) -> tuple[IntArray, Objective | None, list[str]]:
    """An answer at least as good as `chosen` and a lexicographic upper bound on every
    packing (None where none was found in time), with notes.

    Rounds: the singles' flow around the current placement of the groups (which may be a
    better answer), the cut there, the groups' model under it. A round whose count levels
    meet the answer's solves the score level too, under every such cut so far. Another round
    follows only while half the last round's time is left and the gap is worth it
    (`_enough`: above `GAP_TARGET`, still closing by `GAP_PROGRESS` a round, and, where the
    run has no time limit, within `GAP_REACH`); with a time limit, it also cuts halfway
    from the last round's placement (`GroupProof.mid_prices`). Last, the answer's groups
    are moved to nearer homes at the same counts (`GroupProof.polish`), unless the run has
    no time limit and they are where a score level placed them."""
    left = clock.remaining()
    clock = Clock(
        PROOF_SECONDS if left is None else min(left, PROOF_SECONDS),
        clock.deterministic,
        parent=clock,
    )
    answers = Answers(plan, chosen)
    try:
        bound, notes = _rounds(plan, answers, clock, workers, seed, limited=left is not None)
        # A run without a time limit asks for an answer soon: the score level's own
        # placement chose its homes by score already (national seeds 7-9: the polish then
        # moved nothing, or 0.01 % of the score, for 0.2-0.3 s of a 3 s solve).
        if left is not None or not answers.best_placed_by_score():
            answers.start_polish(clock, workers, seed, ahead=False)
            answers.finish_polish(clock, workers, seed)
        notes += answers.polish_note()
    finally:
        answers.stop_all()
    return answers.best, bound, notes


def _rounds(
    plan: GroupProof, answers: Answers, clock: Clock, workers: int, seed: int, limited: bool
) -> tuple[Objective | None, list[str]]:
    bound: Objective | None = None
    notes: list[str] = []
    groups = answers.best[plan.group_units]
    proven: list[_Cut] = []  # cuts exact at every count-optimal placement: their score cuts hold
    last_gap: tuple[str | None, float] | None = None  # level and gap after the round before
    for turn in range(PROOF_ROUNDS):
        if clock.expired():
            break
        singles = answers.evaluate(groups)  # priced at the end of the round before
        started = clock.used()
        sharper, placement, more = plan.round(
            groups, singles, proven, answers, clock, workers, seed, limited
        )
        notes += [f"group bound, round {turn + 1}: {n}" for n in more]
        if sharper is not None and (bound is None or sharper.key() < bound.key()):
            bound = sharper
        if placement is None or np.array_equal(placement, groups) or clock.expired():
            break
        previous, groups = groups, placement
        # The placement found, as an answer, priced at once: the next round cuts there (and
        # the flow is most of the pricing's cost: stress 1.5 s of 1.7).
        answers.evaluate(groups)
        # Another round only if half this one's time is left: the next prices no start of
        # its own and its count levels are fixed to the proven ones (stress: the first
        # round 9.8 s from here, the second 6 s); its CP-SAT stages stop with the clock and
        # no placement is priced after it, so a round cut short costs only its time.
        half = (clock.used() - started) / 2
        gap = None
        if bound is not None:
            answer = objective_of(plan.problem, answers.best)
            gap = (gap_level(answer, bound), gap_to(answer, bound))
        if _enough(gap, last_gap, limited) or not clock.left(half):
            break
        last_gap = gap
        if limited and proven:
            # The cut halfway between this round's placement and the one before (priced
            # in a child meanwhile): the next score level under both.
            halfway = plan.mid_cut(previous, groups, answers.mid_of(previous, groups), proven)
            if halfway is not None:
                proven.append(halfway)
                notes.append(f"group bound, round {turn + 1}: a cut halfway from the one before")
        answers.stop_halfway()  # one not needed: not to compete with the next round's work
    answers.stop_halfway()
    return bound, notes


def _enough(
    gap: tuple[str | None, float] | None, last_gap: tuple[str | None, float] | None, limited: bool
) -> bool:
    """Whether another round is not worth it, by the gap (its level and size; None: no bound
    yet): at the target already; or the last round closed less than `GAP_PROGRESS` of the
    gap it started from at the same level (the cuts have stalled: national seed 5 with a
    time limit, 12 rounds of 8-15 % each); or, in a run with no time limit (which asks for
    an answer soon), too wide for a round to close."""
    if gap is None:
        return False
    level, size = gap
    stalled = (
        last_gap is not None and last_gap[0] == level and size > (1 - GAP_PROGRESS) * last_gap[1]
    )
    return size <= GAP_TARGET or stalled or (not limited and size > GAP_REACH)


@dataclass(frozen=True)
class _Cut:
    """A round's cut, once its count levels met the answer's (so every count-optimal
    placement meets them too), or a cut halfway with a proven cut's count prices
    (`GroupProof.mid_cut`): its count prices and the merged count bound they proved, its
    levels' costs and optima in the groups' model, which every count-optimal placement
    attains (none where an earlier cut's stand for them), and its score cuts, which hold
    for those."""

    count_price: IntArray
    count: int
    count_costs: list[IntArray]
    count_values: list[int]
    score_cuts: list[tuple[int, IntArray]]  # (base, price per group edge), per subgradient


@dataclass(frozen=True)
class GroupProof:
    """What the proof needs of a problem. `of` gives None where the proof does not apply
    (split mode, protected groups, no groups, or count levels that do not merge into one
    cost), and is cheap: `solve_cpsat` asks it of every problem with groups; the rest
    (the singles' problem above all: copies of their edge columns) is worked out when a
    proof runs, once."""

    problem: BatchProblem
    weights: list[int]  # of the count levels in their merge, first level first
    count_levels: list[IntArray]

    @classmethod
    def of(cls, problem: BatchProblem) -> GroupProof | None:
        if problem.split or problem.protected.any() or not (problem.size > 1).any():
            return None
        levels = objective_levels(problem)[:-1]
        nodes = problem.n_units + len(problem.pools_used) + 2
        if len(merge_levels(problem, levels, _FLOW_BUDGET // (nodes + 1))) != 1:
            return None  # the count levels need stages of their own: no single cut
        # The weights `merge_levels` used (tested), as the digits of the cut's prices need.
        weights = [1]
        for level in reversed(levels[1:]):
            weights.insert(0, weights[0] * (level_range(problem, level) + 1))
        return cls(problem, weights, levels)

    @cached_property
    def group_units(self) -> IntArray:
        return np.flatnonzero(self.problem.size > 1)

    @cached_property
    def group_edges(self) -> IntArray:
        return np.flatnonzero(self.problem.size[self.problem.e_unit] > 1)

    @cached_property
    def group_size(self) -> IntArray:
        """The children of each group edge's group."""
        return self.problem.size[self.problem.e_unit[self.group_edges]]

    @cached_property
    def group_pools(self) -> IntArray:
        """The pool of each group edge."""
        return self.problem.e_pool[self.group_edges]

    @cached_property
    def _singles(self) -> tuple[BatchProblem, IntArray]:
        return _singles_problem(self.problem)

    @property
    def singles(self) -> BatchProblem:
        """The single children against every pool (their places set per round)."""
        return self._singles[0]

    @property
    def origin(self) -> IntArray:
        """The edge of `problem` of each of the singles' edges."""
        return self._singles[1]

    @cached_property
    def singles_count(self) -> IntArray:
        """The merged count cost per child on the singles' edges."""
        out = np.zeros(len(self.origin), dtype=np.int64)
        for weight, level in zip(self.weights, self.count_levels, strict=True):
            out += weight * np.asarray(level, np.int64)[self.origin]
        return out

    @cached_property
    def steps(self) -> list[int]:
        """Of each count level's totals: the gcd of its costs per unit."""
        size = self.problem.size[self.problem.e_unit]
        return [
            max(int(np.gcd.reduce(np.asarray(level, np.int64) * size)), 1)
            for level in self.count_levels
        ]

    @cached_property
    def group_counts(self) -> list[IntArray]:
        """Each count level's cost of each group edge (per child times the group's size)."""
        return [
            np.asarray(level, np.int64)[self.group_edges] * self.group_size
            for level in self.count_levels
        ]

    @cached_property
    def group_score(self) -> IntArray:
        """The groups' own score of each group edge."""
        score = np.asarray(objective_levels(self.problem)[-1], np.int64)
        return score[self.group_edges] * self.group_size

    @cached_property
    def least_score(self) -> int:
        """The least score any packing can have."""
        return level_totals(self.problem, objective_levels(self.problem)[-1])[0]

    @cached_property
    def largest(self) -> list[int]:
        """Each count level's largest total over all packings."""
        return [level_totals(self.problem, level)[1] for level in self.count_levels]

    def places_taken(self, groups: IntArray) -> IntArray:
        """Places per pool the units take (`groups`: an edge per unit, -1 unplaced; the
        group units, or any)."""
        taken = np.zeros(len(self.problem.pool_free), dtype=np.int64)
        used = groups[groups >= 0]
        np.add.at(taken, self.problem.e_pool[used], self.problem.size[self.problem.e_unit[used]])
        return taken

    def singles_at(self, groups: IntArray) -> Singles:
        # Every pool stays in the singles' network, also one the groups fill: its price is
        # what a place there would be worth to the singles if a group moved out.
        return self._priced(self._singles_with(self.problem.pool_free - self.places_taken(groups)))

    def _priced(self, sub: BatchProblem) -> Singles:
        """The singles' optimum on `sub` (their problem with other places), priced."""
        n_pools = len(self.problem.pool_free)
        if not sub.n_edges:
            none = np.zeros(n_pools, dtype=np.int64)
            return Singles(np.zeros(0, dtype=np.int8), 0, 0, none, [none])
        # The score level is the score per child: the singles' own column, not a copy.
        costs = [self.singles_count, np.asarray(self.singles.e_cost, np.int64)]
        found = stage_prices(sub, costs)

        def per_pool(price: IntArray) -> IntArray:
            out = np.zeros(n_pools, dtype=np.int64)
            out[sub.pools_used] = price
            return out

        return Singles(
            found.flows.astype(np.int8),  # children per edge (0-1; 0-2 halfway), kept
            found.values[0],
            found.values[1],
            per_pool(found.prices[0]),
            [per_pool(found.prices[1]), per_pool(found.least_prices[1])],
        )

    def mid_prices(self, a: IntArray, b: IntArray) -> Singles:
        """The singles' optimum halfway between placements `a` and `b` of the groups, on
        their places doubled: every single child two, every pool the places `a` leaves plus
        those `b` leaves. A min-cost flow: its values are twice the halfway optimum of the
        singles' LP (exact at whole places, which `singles_at` prices), and its prices are
        the halfway point's per place. The cut there is tighter than the cuts at `a` and `b`
        between them, where the score level moves: stress seed 4's bound after two rounds
        193,751 -> 193,779, after five 193,793 -> 193,820."""
        p = self.problem
        lost = self.places_taken(a) + self.places_taken(b)  # places taken, doubled
        return self._priced(self._singles_with(2 * p.pool_free - lost, 2 * self.singles.size))

    def mid_cut(
        self, a: IntArray, b: IntArray, halfway: Singles, proven: list[_Cut]
    ) -> _Cut | None:
        """The cut at the halfway point (`mid_prices`), as a proven round's: where its count
        prices are a proven cut's, its count part is exact at every count-optimal placement
        as `round` argues for a round's own cut (that argument holds at any point of the
        singles' LP, whole places or not), so its score cut holds there. None otherwise."""
        known = _with_count_prices(proven, halfway.count_price)
        if known is None:
            return None
        lost = self.places_taken(a) + self.places_taken(b)
        return _Cut(halfway.count_price, known.count, [], [], self._score_cuts(halfway, lost, 2))

    def _score_cuts(
        self, singles: Singles, taken: IntArray, points: int
    ) -> list[tuple[int, IntArray]]:
        """The score cuts of a pricing at the mean of `points` placements that take `taken`
        places in all (`singles`' values are `points` times the optimum there): theta >=
        (score - price . taken) / points + price . x, per group edge x. theta and price . x
        are whole numbers, so the base may be rounded up."""
        return [
            (
                -((int(price @ taken) - singles.score) // points),
                price[self.group_pools] * self.group_size,
            )
            for price in singles.score_prices
        ]

    def _singles_with(self, free: IntArray, size: IntArray | None = None) -> BatchProblem:
        """The singles' problem against `free` places (and children per single, `size`:
        2 halfway), with the columns worked out from its edges alone carried over (the
        order of preference: an argsort of 1.1 M edges and 18 MB of the proof's memory
        peak nationally, each round)."""
        sub = replace(
            self.singles, pool_free=free, size=self.singles.size if size is None else size
        )
        for name in ("edge_preference", "pools_used"):
            sub.__dict__[name] = getattr(self.singles, name)  # cached_property's own slot
        return sub

    def merged_count(self, chosen: IntArray) -> int:
        """The merged count cost of a packing (edge per unit, -1 unplaced)."""
        used = chosen[chosen >= 0]
        size = self.problem.size[self.problem.e_unit[used]]
        return sum(
            w * int((np.asarray(level, np.int64)[used] * size).sum())
            for w, level in zip(self.weights, self.count_levels, strict=True)
        )

    def packing(self, groups: IntArray, singles_flows: np.ndarray) -> IntArray:
        """Edge per unit: the groups' placement with the singles' flow around it."""
        chosen = np.full(self.problem.n_units, -1, dtype=np.int64)
        chosen[self.group_units] = groups
        used = self.origin[singles_flows > 0]
        chosen[self.problem.e_unit[used]] = used
        return chosen

    def polish(self, chosen: IntArray, clock: Clock, workers: int, seed: int) -> IntArray:
        """`chosen` with its groups moved, at the same total of every count level, to the
        homes of least score among the places its single children leave: the count stages
        of the groups' model take any homes that count the same (national seed 6: a score
        24 % above the bound, 1 % after this)."""
        p = self.problem
        groups = chosen[self.group_units]
        out = chosen.copy()
        out[self.group_units] = -1
        left = p.pool_free - self.places_taken(out)  # the places the singles leave
        model = GroupsModel(p, self.group_edges, workers, seed, free=left)
        current = np.isin(self.group_edges, groups).astype(np.int64)
        for cost in self.group_counts:
            model.fix(cost, int(cost @ current))
        model.start_from(groups)
        placement = model.least(self.group_score, clock)
        if placement is None:
            return chosen
        out[self.group_units] = placement
        return out if objective_of(p, out).key() > objective_of(p, chosen).key() else chosen

    def round(
        self,
        groups: IntArray,
        singles: Singles,
        proven: list[_Cut],
        answers: Answers,
        clock: Clock,
        workers: int,
        seed: int,
        limited: bool,
    ) -> tuple[Objective | None, IntArray | None, list[str]]:
        """The cut at `groups`; the groups' model under it, count levels one by one: the
        bound they prove. Where an answer meets it (the answer so far, or a placement the
        model found, priced and weighed as an answer), the count levels are optimal, the
        cut joins `proven`, and the score level's bound under every proven cut stands.
        Returns the bound, the placement the model found last (None: none in time) and
        notes."""
        p = self.problem
        edges = self.group_edges
        digits = balanced_digits(singles.count_price, self.weights)
        counts = [
            own + digit[self.group_pools] * self.group_size
            for own, digit in zip(self.group_counts, digits, strict=True)
        ]
        low, high = level_ranges(p.e_unit[edges], counts)
        if not dominated(self.weights, low, high):
            return None, None, ["the merged weights do not dominate the groups' model: no bound"]
        taken = self.places_taken(groups)
        count_base = singles.count - int(singles.count_price @ taken)
        model = GroupsModel(p, edges, workers, seed)
        for cut in proven:  # every count-optimal placement meets these
            for cost, value in zip(cut.count_costs, cut.count_values, strict=True):
                model.fix(cost, value)
        # With a proven cut's count prices, this cut's count part differs from that one's
        # by a constant, which is 0: at least 0 here (that cut is below the count at this
        # placement, where this one is exact), at most 0 at a count-optimal placement (where
        # that cut is exact, this one below). So it is exact at every count-optimal
        # placement as well, its score cut holds there, and the count levels need no solve
        # (stress: the prices stayed the same in every round; 2-3 s a round saved).
        known = _with_count_prices(proven, singles.count_price)
        found: IntArray | None = None
        if known is not None:
            values: list[int] = []
            count = known.count
            model.start_from(groups)
            notes = ["the count levels' prices as in a round before: proven"]
        else:
            values, found = model.levels(counts, groups, clock, low, high)
            notes = [f"{len(values)} of {len(counts)} count levels of the groups' model proven"]
            bound_values = values + model.last_bound
            count = count_base + sum(
                w * (bound_values[k] if k < len(bound_values) else low[k])
                for k, w in enumerate(self.weights)
            )
            if len(values) < len(counts):
                return self._as_objective(count, None), found, notes
        # The score level is solved under this cut at once, before any answer is known to
        # meet its count levels: the placement it finds, priced as an answer, most often
        # does (and proves them). The count levels' own placement is priced meanwhile in a
        # child, in case neither the answer nor that placement meets them.
        met_already = count == answers.count_of(None)
        if found is not None and not met_already:
            answers.ahead(found)
        score_cuts = self._score_cuts(singles, taken, 1)
        cut = _Cut(singles.count_price, count, counts if known is None else [], values, score_cuts)
        for each in [*proven, cut]:
            for base, price in each.score_cuts:
                model.add_score_cut(base, price)
        score, placement = model.score(self.group_score, clock)
        if placement is not None and model.score_proven:
            answers.placed_by_score(placement)

        def meets(groups: IntArray | None) -> bool:
            # No placement is priced after the clock runs out, not even one a child has
            # priced: whether a child could be forked must not change the answer.
            if groups is None or clock.expired():
                return False
            return count == answers.count_of(groups)

        # The count levels' placement was priced in a child meanwhile. While the score
        # level's placement is priced here, another child works out, with a time limit
        # (where rounds go on), the cut halfway from this round's placement (`mid_prices`);
        # without one, the best answer so far (the count levels' placement weighed)
        # polished. With a limit a polish would hold the round up (stress: 1.3-2.4 s
        # against a pricing's 1.1-1.5).
        if limited:
            if placement is not None and not np.array_equal(placement, groups):
                answers.mid_ahead(groups, placement)
            met = met_already or meets(placement) or meets(found)
        else:
            met = met_already or meets(found)
            answers.start_polish(clock, workers, seed, ahead=True)
            met = meets(placement) or met
            answers.finish_polish(clock, workers, seed)
        answers.stop_ahead()
        last = found if placement is None else placement
        if not met:
            notes.append("no answer meets them: no score bound")
            return self._as_objective(count, None), last, notes
        proven.append(cut)
        notes.append(
            f"score level under {len(proven)} cut(s): "
            + ("no bound in time" if score is None else f"bound {score / 100:.2f}")
        )
        return self._as_objective(count, score), last, notes

    def _as_objective(self, count: int, score: int | None) -> Objective:
        """The lexicographic bound a lower bound on the merged count cost (and, with every
        count level proven, on the score) gives, in the objective's terms."""
        p = self.problem
        per_level = []
        rest = count
        for k, weight in enumerate(self.weights):
            # The levels after this one add at most their largest totals.
            after = zip(self.weights[k + 1 :], self.largest[k + 1 :], strict=True)
            most = sum(w * top for w, top in after)
            level = -((most - rest) // weight)  # ceil((rest - most) / weight)
            # A level's totals are multiples of its step (the together level's: a whole
            # group's points), so the bound is too; the levels after are bounded given it.
            step = self.steps[k]
            level = -((-level) // step) * step
            per_level.append(level)
            rest -= weight * level
        if score is None:  # no score bound: the least score any packing can have
            score = self.least_score
        scale = p.together_scale
        if p.together_after == AFTER_TIERS:
            placed, tier1, tier2, tier3, together = per_level
        else:
            placed, together, tier1, tier2, tier3 = per_level
        return Objective(
            -placed,
            -tier1,
            -tier2,
            -tier3,
            score / 100,
            math.floor(-together / scale),
            p.together_after,
        )


def _with_count_prices(proven: list[_Cut], count_price: IntArray) -> _Cut | None:
    """A proven cut with these count prices, if any."""
    return next((c for c in proven if np.array_equal(c.count_price, count_price)), None)


def _singles_problem(problem: BatchProblem) -> tuple[BatchProblem, IntArray]:
    """The single children against every pool, and the edge of `problem` of each of its
    edges: `subset` without the option ids and tie-break order, which no flow reads (the
    ids alone were 32 MB on the stress instance)."""
    units = np.flatnonzero(problem.size == 1)
    new_index = np.full(problem.n_units, -1, dtype=np.int64)
    new_index[units] = np.arange(len(units))
    origin = np.flatnonzero(problem.size[problem.e_unit] == 1)
    singles = BatchProblem(
        units=tuple(problem.units[u] for u in units),
        size=problem.size[units],
        group=(None,) * len(units),
        pool_free=problem.pool_free,
        e_unit=new_index[problem.e_unit[origin]],
        e_pool=problem.e_pool[origin],
        e_tier=problem.e_tier[origin],
        e_cost=problem.e_cost[origin],
        e_option=np.zeros(0, dtype=object),
        e_order=np.zeros(0, dtype=np.int32),
        together_after=problem.together_after,
    )
    return singles, origin
