"""The batch problem (units, pools, eligible edges) and its lexicographic objective."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, partial
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.batch._ahead import FORK_OFF_ENV, Forked, can_fork, cores
from matcher.batch._pairs import EDGE_DTYPES, PAIR_UNITS, pair_edges_in_calls
from matcher.batch._reuse import EdgeMemo
from matcher.rank import Matcher
from matcher.rules import offerable_rows
from matcher.tables import IntArray, OptionTable, Unit, stacked

__all__ = [
    "AFTER_PLACED",
    "AFTER_TIERS",
    "BatchProblem",
    "Objective",
    "build_problem",
    "level_range",
    "level_totals",
    "merge_levels",
    "objective_levels",
    "objective_of",
]

EDGE_WORKERS_ENV = FORK_OFF_ENV  # one variable for every fork: "1" forks nothing
# Below this many units a fork and the pipe cost more than the edges they share out.
PARALLEL_FROM_UNITS = 400

# Where "sibling groups kept together" sits in the lexicographic objective (policy
# `[siblings] priority`): right after the children placed, or after the three tier counts.
AFTER_PLACED = "after_placed"
AFTER_TIERS = "after_tiers"


@dataclass(frozen=True)
class BatchProblem:
    """Units, pools and eligible (unit, pool) edges: the only input a solver sees.

    Split mode (`--allow-sibling-split`): a sibling group is there twice, as its whole-group
    unit and as one unit per member (`parent` is the group unit's index). A child is placed
    by at most one unit that covers it: its group unit or its own. Only the group unit's
    edges keep the group together, so the objective's "together" level counts them.
    """

    units: tuple[Unit, ...]
    size: IntArray  # children per unit
    group: tuple[str | None, ...]  # sibling group of a member unit (split mode), else None
    pool_free: IntArray  # free places per pool (all pools of the matcher)
    e_unit: IntArray
    e_pool: IntArray
    # Tier and tie-break in the narrowest types that hold them: a national problem has 1.2 M
    # edges and these columns live through the whole solve.
    e_tier: npt.NDArray[np.integer[Any]]  # int8 as built
    e_cost: IntArray  # within-tier score per child, in hundredths
    e_option: np.ndarray  # option id per edge
    e_order: npt.NDArray[np.integer[Any]]  # deterministic tie-break (option order key), int32
    parent: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    together_after: str = AFTER_PLACED
    # Split mode, second phase: groups the no-split optimum keeps together. Keeping them
    # placed whole is a level above all others ("kept"), so no such group is broken up or
    # left out to make room for other children (§ 52(3): only weighty reasons split a group).
    protected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.parent) != len(self.units):  # no split mode: nobody has a parent
            object.__setattr__(self, "parent", np.full(len(self.units), -1, dtype=np.int64))
        if len(self.protected) != len(self.units):
            object.__setattr__(self, "protected", np.zeros(len(self.units), dtype=bool))

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def split(self) -> bool:
        return bool((self.parent >= 0).any())

    @property
    def is_hub(self) -> IntArray:
        """Group units whose members are units too (split mode): they supply no children
        themselves; their members do."""
        hub = np.zeros(self.n_units, dtype=bool)
        hub[self.parent[self.parent >= 0]] = True
        return hub

    @cached_property
    def levels(self) -> tuple[IntArray, ...]:
        """`objective_levels`, worked out once: both flow relaxations and the bound read them
        (0.16 s each on a national problem). Read-only."""
        levels = _objective_levels(self)
        for level in levels:
            level.flags.writeable = False
        return tuple(levels)

    @cached_property
    def edge_preference(self) -> IntArray:
        """Edge indices grouped by unit, each unit's edges best first (tier, then score):
        where every working set of the flow starts. Read-only."""
        cost = self.e_cost - int(self.e_cost.min(initial=0))
        span = int(cost.max(initial=0)) + 1
        if self.n_units * 5 * span < 2**62:  # one int64 key sorts faster than a lexsort
            order = np.argsort((self.e_unit * 5 + self.e_tier) * span + cost, kind="stable")
        else:
            order = np.lexsort((self.e_cost, self.e_tier, self.e_unit))
        if self.n_edges < 2**31:  # kept for the whole solve: half the memory in int32
            order = order.astype(np.int32)
        order.flags.writeable = False
        return order

    @cached_property
    def pools_used(self) -> IntArray:
        """The pools some edge reaches, ascending."""
        return np.flatnonzero(np.bincount(self.e_pool, minlength=len(self.pool_free)))

    @property
    def together_scale(self) -> int:
        """Least common multiple of the group sizes: a group kept together is worth this
        many points spread over its children (scale / size each), in whole numbers."""
        sizes = {int(s) for s in self.size if s > 1}
        return math.lcm(*sizes) if sizes else 1

    def subset(
        self,
        units: IntArray,
        pool_free: IntArray | None = None,
        protected: np.ndarray | None = None,
    ) -> tuple[BatchProblem, IntArray]:
        """The problem of some units (against `pool_free`, default the same places), and per
        edge of it the edge of this problem it came from. A member whose group unit is left
        out becomes a unit of its own."""
        units = np.asarray(units, dtype=np.int64)
        free = self.pool_free if pool_free is None else pool_free
        new_index = np.full(self.n_units, -1, dtype=np.int64)
        new_index[units] = np.arange(len(units))
        old_parent = self.parent[units]
        parent = np.where(old_parent >= 0, new_index[np.maximum(old_parent, 0)], -1)
        keep = self._edges_of_units(units, new_index)
        keep = keep[free[self.e_pool[keep]] >= self.size[self.e_unit[keep]]]
        sub = BatchProblem(
            units=tuple(self.units[u] for u in units),
            size=self.size[units],
            group=tuple(self.group[u] if parent[k] >= 0 else None for k, u in enumerate(units)),
            pool_free=free,
            e_unit=new_index[self.e_unit[keep]],
            e_pool=self.e_pool[keep],
            e_tier=self.e_tier[keep],
            e_cost=self.e_cost[keep],
            e_option=self.e_option[keep],
            e_order=self.e_order[keep],
            parent=parent,
            together_after=self.together_after,
            protected=self.protected[units] if protected is None else protected,
        )
        return sub, keep

    @cached_property
    def _units_in_order(self) -> bool:
        """Whether the edges come unit by unit (as built): a unit's edges are then a range."""
        return bool(np.all(self.e_unit[1:] >= self.e_unit[:-1]))

    def _edges_of_units(self, units: IntArray, new_index: IntArray) -> IntArray:
        """The edges of `units`, ascending. Gathered as ranges where the edges come unit by
        unit: a repair's few hundred units then cost no pass over a national problem's
        million edges (five per solve, 40 MB of temporaries each)."""
        if not self._units_in_order:
            return np.flatnonzero(new_index[self.e_unit] >= 0)
        ordered = np.unique(units)  # each unit's range once, ascending
        starts = np.searchsorted(self.e_unit, ordered, side="left")
        lengths = np.searchsorted(self.e_unit, ordered, side="right") - starts
        total = int(lengths.sum())
        # Each range start repeated over its length, plus the place within the range.
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        return offsets + np.arange(total, dtype=np.int64)

    def covers(self) -> list[IntArray]:
        """Sets of units of which at most one may be placed: per child, the units covering it
        (its own unit, and in split mode also its group unit)."""
        hub = self.is_hub
        out: list[IntArray] = []
        for u in range(self.n_units):
            if hub[u]:
                continue
            p = int(self.parent[u])
            out.append(np.array([u] if p < 0 else [u, p], dtype=np.int64))
        return out

    @property
    def n_edges(self) -> int:
        return len(self.e_unit)

    def edges_of_unit(self) -> list[IntArray]:
        order = np.argsort(self.e_unit, kind="stable")
        bounds = np.searchsorted(self.e_unit[order], np.arange(self.n_units + 1))
        return [order[bounds[u] : bounds[u + 1]] for u in range(self.n_units)]


_NO_EDGES = (
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int8),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=object),
    np.zeros(0, dtype=np.int64),
)


@dataclass(frozen=True)
class _Offerable:
    """The option rows some unit may be offered (`offerable_rows`), and where each row of
    the matcher's whole table sits among them (-1: not there)."""

    table: OptionTable
    position: IntArray

    @classmethod
    def of(cls, matcher: Matcher, free: IntArray) -> _Offerable:
        rows = offerable_rows(matcher.options, free)
        position = np.full(len(matcher.options), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        return cls(matcher.options.take(rows), position)

    def candidates(self, matcher: Matcher, unit: Unit) -> IntArray | None:
        """The unit's reachable rows (`Matcher.candidates`) among these; None: all."""
        found = matcher.candidates(unit)
        if found is None:
            return None
        at = self.position[found]
        return at[at >= 0]


def _unit_edges(
    matcher: Matcher, unit: Unit, as_of: date, free: IntArray, offerable: _Offerable
) -> list[np.ndarray]:
    """One unit's edges by the ranking core's own rules and terms (`Matcher.edges`): the
    statement the batch's pair kernel (`_pairs.pair_edges`) is tested against, edge for
    edge, and the baseline of `python -m benchmarks edges`."""
    # The unit's network and the options in one table: one pass of the rules and terms
    # instead of two (every rule and term reads row by row; tested against `evaluate`).
    network = unit.network
    table = stacked(network, offerable.table) if len(network) else offerable.table
    candidates = offerable.candidates(matcher, unit)
    if candidates is not None and len(network):
        candidates = np.concatenate([np.arange(len(network)), candidates + len(network)])
    if not len(table):
        return list(_NO_EDGES)
    sub, eligible, score = matcher.edges(unit, table, candidates, as_of.toordinal(), free)
    if not len(eligible):
        return list(_NO_EDGES)
    pool = sub.pool[eligible]
    tier = sub.tier[eligible]  # int8, as the column it goes to (`_EdgeBuilder._slice`)
    cost = np.rint(score * 100).astype(np.int64)
    option = sub.option_id[eligible]
    order = sub.order_key[eligible]
    # A unit takes at most one offer per home: the best one (lower tier, then lower score)
    # dominates the others for every level of the objective, so only it is kept.
    best = np.lexsort((order, cost, tier, pool))
    first = best[np.r_[True, pool[best][1:] != pool[best][:-1]]]
    return [pool[first], tier[first], cost[first], option[first], order[first]]


def build_problem(
    matcher: Matcher,
    units: list[Unit],
    as_of: date,
    allow_split: bool = False,
    together_after: str | None = None,
    meanwhile: Callable[[], object] | None = None,
    memo: EdgeMemo | None = None,
) -> BatchProblem:
    """Eligible edges of every unit, from the ranking core's rules and terms. The level of
    "groups kept together" comes from the default policy's `siblings_priority` unless
    `together_after` names it. With a `memo`, the edges an earlier build kept there are
    reused where they cannot differ (`_reuse`), and this build's are kept."""
    if together_after is None:
        together_after = matcher.policies.default.siblings_priority
    if together_after not in (AFTER_PLACED, AFTER_TIERS):
        raise ValueError(f"together_after {together_after!r}: {AFTER_PLACED} or {AFTER_TIERS}")
    units = list(units)
    group: list[str | None] = [None] * len(units)
    parent = [-1] * len(units)
    if allow_split:
        # Each group keeps its whole-group unit; its members follow as their own units.
        groups = [(u, unit) for u, unit in enumerate(units) if unit.size > 1]
        members, member_group = matcher.split_units([unit for _, unit in groups])
        sizes = [unit.size for _, unit in groups]
        owners = [u for (u, _), n in zip(groups, sizes, strict=True) for _ in range(n)]
        units += members
        group += member_group
        parent += owners
    free = matcher.pools.free
    offerable = _Offerable.of(matcher, free)

    def build(some: tuple[Unit, ...]) -> list[np.ndarray]:
        edges = _EdgeBuilder(matcher, some, as_of, free, offerable)
        return edges.columns(edge_workers(len(some)), meanwhile)

    if memo is None:
        columns = build(tuple(units))
    else:
        columns = memo.columns(
            matcher,
            tuple(units),
            as_of,
            free,
            offerable.table,
            partial(offerable.candidates, matcher),
            build,
        )
    e_unit, e_pool, e_tier, e_cost, e_option, e_order = columns
    return BatchProblem(
        units=tuple(units),
        size=np.array([u.size for u in units], dtype=np.int64),
        group=tuple(group),
        pool_free=free.copy(),
        e_unit=e_unit,
        e_pool=e_pool,
        e_tier=e_tier,
        e_cost=e_cost,
        e_option=e_option,
        e_order=e_order,
        parent=np.array(parent, dtype=np.int64),
        together_after=together_after,
    )


def edge_workers(n_units: int) -> int:
    """Processes that build the edges: the cores this process may use (at most 4) for a
    cohort of `PARALLEL_FROM_UNITS` or more, else 1. Only in a process with one Python
    thread on a system that forks: a fork copies one thread, and a lock another thread held
    (a server's, a Dask worker's) would never be released in the copy. Not in a worker of a
    process pool (what-if sweeps): its sibling workers already use the cores.
    `PLACEMENT_EDGE_WORKERS` sets the number (1: none forked)."""
    if n_units < PARALLEL_FROM_UNITS or not can_fork():
        return 1
    chosen = os.environ.get(EDGE_WORKERS_ENV, "").strip()
    if chosen.isdigit() and int(chosen) >= 1:
        return int(chosen)
    return min(cores(), 4)


class _EdgeBuilder:
    """The edge columns of the units: each unit's edges are independent of the others', so
    slices of units go to forked copies of this process and come back as arrays; the
    columns are the same, in the same order, as built in one process (tested)."""

    def __init__(
        self,
        matcher: Matcher,
        units: tuple[Unit, ...],
        as_of: date,
        free: IntArray,
        offerable: _Offerable,
    ) -> None:
        self.matcher, self.units, self.as_of = matcher, units, as_of
        self.free, self.offerable = free, offerable

    def columns(
        self, workers: int = 1, meanwhile: Callable[[], object] | None = None
    ) -> list[np.ndarray]:
        """unit, pool, tier, cost, option id and order of every edge, unit by unit.
        `meanwhile` runs here after this process's slice, while the forked children may
        still be at theirs (only if some were forked: it would otherwise only add time)."""
        bounds = np.linspace(0, len(self.units), max(workers, 1) + 1).astype(np.int64)
        slices = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        forked = [self._fork(first, last) for first, last in slices[1:]]
        parts = [self._slice(*slices[0])]
        if meanwhile is not None and any(child is not None for child in forked):
            meanwhile()
        for (first, last), child in zip(slices[1:], forked, strict=True):
            found = self._collect(child)
            parts.append(found if found is not None else self._slice(first, last))
        return [np.concatenate([part[k] for part in parts]) for k in range(6)]

    def _slice(self, first: int, last: int) -> list[np.ndarray]:
        """The columns of units first..last-1, `PAIR_UNITS` at a time (`pair_edges`)."""
        matcher, offerable = self.matcher, self.offerable
        cols = pair_edges_in_calls(
            self.units[first:last],
            matcher.policy_for,
            offerable.table,
            partial(offerable.candidates, matcher),
            self.free,
            PAIR_UNITS,
        )
        cols[0] += first
        return cols

    def unit_by_unit(self, first: int, last: int) -> list[np.ndarray]:
        """The same columns, unit by unit through the ranking core (`_unit_edges`): the
        reference and baseline of `_slice`."""
        cols: list[list[np.ndarray]] = [[], [], [], [], [], []]
        for u in range(first, last):
            edges = _unit_edges(self.matcher, self.units[u], self.as_of, self.free, self.offerable)
            for k, values in enumerate((np.full(len(edges[0]), u), *edges)):
                cols[k].append(values)
        return [
            np.concatenate(cols[k]).astype(dtype, copy=False)
            if cols[k]
            else np.zeros(0, dtype=dtype)
            for k, dtype in enumerate(EDGE_DTYPES)
        ]

    def _fork(self, first: int, last: int) -> Forked | None:
        """A child process that builds the slice's columns; None if none started."""
        return Forked.fork(partial(self._encoded_slice, first, last))

    def _encoded_slice(self, first: int, last: int) -> tuple[np.ndarray, ...]:
        """The slice's columns with the option ids as codes into their distinct values (a
        text array, no objects), so that every column goes as plain .npy bytes. Coded by a
        dict in order of appearance: np.unique sorted the strings for 0.37 s."""
        cols = self._slice(first, last)
        seen: dict[object, int] = {}
        codes = np.fromiter(
            (seen.setdefault(o, len(seen)) for o in cols[4]), np.int64, len(cols[4])
        )
        ids = np.array([str(o) for o in seen], dtype=str)
        return (*cols[:4], ids, codes, cols[5])

    @staticmethod
    def _collect(child: Forked | None) -> list[np.ndarray] | None:
        """The child's columns, or None if it failed (its slice is then built here)."""
        found = None if child is None else child.arrays()
        if found is None or len(found) != 7:
            return None
        unit, pool, tier, cost, ids, codes, order = found
        return [unit, pool, tier, cost, ids.astype(object)[codes], order]


@dataclass(frozen=True)
class Objective:
    placed: int
    tier1: int
    tier2: int
    tier3: int
    score: float  # children x score, km-equivalents
    together: float = 0  # sibling groups kept together (a relaxation's bound may be fractional)
    together_after: str = AFTER_PLACED
    kept: float = 0  # protected groups placed whole (split mode's second phase only)

    def key(self) -> tuple[float, ...]:
        """Larger is better, lexicographically (score in hundredths, negated)."""
        cents = -round(self.score * 100)
        if self.together_after == AFTER_TIERS:
            return (
                self.kept,
                self.placed,
                self.tier1,
                self.tier2,
                self.tier3,
                self.together,
                cents,
            )
        return (self.kept, self.placed, self.together, self.tier1, self.tier2, self.tier3, cents)

    def level_names(self) -> tuple[str, ...]:
        if self.together_after == AFTER_TIERS:
            return ("kept", "placed", "tier1", "tier2", "tier3", "together", "score")
        return ("kept", "placed", "together", "tier1", "tier2", "tier3", "score")

    def as_dict(self) -> dict[str, Any]:
        together = self.together
        return {
            "placed": self.placed,
            "together": int(together) if float(together).is_integer() else round(together, 3),
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
    return Objective(
        int(size.sum()),
        int(size[tier == 1].sum()),
        int(size[tier == 2].sum()),
        int(size[tier == 3].sum()),
        cents / 100,
        int((size > 1).sum()),
        problem.together_after,
        int(problem.protected[problem.e_unit[used]].sum()),
    )


def objective_levels(problem: BatchProblem) -> list[IntArray]:
    """Per-child costs of the levels on each edge, each to be minimised in turn, in the
    problem's order (see `_objective_levels`; the arrays are shared and read-only)."""
    return list(problem.levels)


def _objective_levels(problem: BatchProblem) -> list[IntArray]:
    """Per-child costs of the six levels on each edge, each to be minimised in turn, in the
    problem's order. A group kept together earns `together_scale` over its children."""
    # The count levels in the narrowest integer type that holds them (a national problem's
    # six int64 levels took 55 MB); whoever combines them widens to int64 first.
    tier = problem.e_tier
    one = np.ones(problem.n_edges, dtype=np.int8)
    size = problem.size[problem.e_unit]
    per_child = np.int32 if problem.together_scale < 2**30 else np.int64
    whole = (problem.together_scale // np.maximum(size, 1)).astype(per_child)
    together = -np.where(size > 1, whole, per_child(0))
    t1, t2, t3 = (-(tier == k).astype(np.int8) for k in (1, 2, 3))
    score = np.asarray(problem.e_cost, dtype=np.int64).view()  # shared: its own read-only flag
    if problem.together_after == AFTER_TIERS:
        levels = [-one, t1, t2, t3, together, score]
    else:
        levels = [-one, together, t1, t2, t3, score]
    if problem.protected.any():
        kept = problem.protected[problem.e_unit]
        levels.insert(0, -np.where(kept, whole, per_child(0)))
    return levels


def level_range(problem: BatchProblem, cost: IntArray) -> int:
    """Largest difference of a level's total between two assignments."""
    least, largest = level_totals(problem, cost)
    return largest - least


def level_totals(problem: BatchProblem, cost: IntArray) -> tuple[int, int]:
    """The least and the largest total of a level over all assignments: each unit adds its
    size times at most one edge's per-child cost (or nothing), so the total lies between the
    sums of the units' minima and maxima."""
    # In the level's own type: ufunc.at takes its fast path only without casting.
    lo = np.zeros(problem.n_units, dtype=cost.dtype)
    hi = np.zeros(problem.n_units, dtype=cost.dtype)
    np.minimum.at(lo, problem.e_unit, cost)
    np.maximum.at(hi, problem.e_unit, cost)
    size = problem.size.astype(np.int64)
    return int((size * lo.astype(np.int64)).sum()), int((size * hi.astype(np.int64)).sum())


def merge_levels(problem: BatchProblem, levels: list[IntArray], budget: int) -> list[IntArray]:
    """Combine consecutive levels into one cost where the weight is provably large enough.

    Merging a with b as a * (R_b + 1) + b, where R_b bounds how much b's total can differ
    between two assignments, orders assignments exactly as (a, then b): a difference of 1 in
    a outweighs any difference in b. A merge happens only if the merged per-child costs,
    times the largest unit, stay within `budget`; otherwise b starts a new stage. A level
    left alone and already int64 is returned itself, not copied: it may be the problem's own
    read-only array, so callers only read what they get.
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
        merged.append(np.asarray(cost, dtype=np.int64))  # no copy of a level already int64
    return merged
