"""Rank every placement option for one child (or its sibling group), down the staircase.

`Matcher` builds the columnar tables once per dataset and keeps capacity in pools, so a
service can update free places without rebuilding. `Matcher.rank` filters by the hard
constraints, orders eligible options by (tier, score, option id) and reports every excluded
option with its reasons. Options beyond the policy's distance limit are not examined further:
they are reported with TOO_FAR alone, which is also what lets large tables be pruned with a
KD-tree without changing a single figure of the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np

from geo.distance import arc_km, ellipsoid_km
from geo.pruning import SpatialIndex
from matcher.policy import Policy, PolicySet, load_policy_set, wish_weight
from matcher.rules import (
    DISTANCE_FREE,
    DISTANCE_RULES,
    REASON_ORDER,
    View,
    evaluate_reasons,
    evaluate_warnings,
    make_view,
    narrow,
    passes,
    reasons_of,
    warnings_of,
)
from matcher.scoring import score_terms
from matcher.tables import (
    KINDS,
    FloatArray,
    IntArray,
    OptionTable,
    Unit,
    UnitInputs,
    UnitPlan,
    build_option_table,
    build_pools,
    build_unit,
    build_units,
    plan_units,
    unit_inputs,
)
from models.dataset import Dataset
from models.enums import Kind, Reason

__all__ = [
    "PRUNE_SAMPLE",
    "PRUNE_THRESHOLD",
    "PRUNE_WHEN_WITHIN",
    "Evaluation",
    "Matcher",
    "OptionCheck",
    "Proposal",
    "Ranking",
    "UnknownChild",
]

PRUNE_THRESHOLD = 20_000  # options; below it a full vectorised pass is cheaper than a KD-tree
# ... and the index is queried only when at most this share of the options is within reach
# (estimated on an even sample of PRUNE_SAMPLE option points).
PRUNE_WHEN_WITHIN = 0.5
PRUNE_SAMPLE = 512
_TOO_FAR_BIT = 1 << REASON_ORDER.index(Reason.TOO_FAR)


def _reasons(view: View, policy: Policy) -> IntArray:
    """The reasons' bit field; beyond the distance limit nothing else is reported (see the
    module docstring)."""
    reasons = evaluate_reasons(view, policy)
    reasons[(reasons & _TOO_FAR_BIT) != 0] = _TOO_FAR_BIT
    return reasons


class UnknownChild(KeyError):
    """No child with that id in the dataset."""


@dataclass(frozen=True)
class Evaluation:
    """One unit against one option table: everything ranking and batch need."""

    opts: OptionTable
    reasons: IntArray
    warnings: IntArray
    score: FloatArray
    terms: dict[str, FloatArray]
    home_km: FloatArray

    @property
    def eligible(self) -> IntArray:
        return np.flatnonzero(self.reasons == 0)


@dataclass(frozen=True)
class Proposal:
    rank: int
    option_id: str
    kind: str
    tier: int
    score: float
    terms: dict[str, float]
    distance_km: dict[str, float | None]
    free_places: int
    warnings: list[str]
    kommune_code: str | None
    label: str
    # The weight the child's wish had (by age, Barnets Lov § 46), when the child has wishes.
    wish_weight: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "rank": self.rank,
            "option_id": self.option_id,
            "kind": self.kind,
            "tier": self.tier,
            "score": self.score,
            "terms": self.terms,
            "distance_km": self.distance_km,
            "free_places": self.free_places,
            "warnings": self.warnings,
            "kommune_code": self.kommune_code,
            "label": self.label,
        }
        if self.wish_weight is not None:
            out["wish_weight"] = self.wish_weight
        return out


@dataclass(frozen=True)
class Ranking:
    child_id: str
    sibling_group: str | None
    children: tuple[str, ...]
    policy: str
    as_of: date
    proposals: list[Proposal]
    eligible: int
    excluded: dict[str, int]
    excluded_options: list[dict[str, Any]] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "child_id": self.child_id,
            "sibling_group": self.sibling_group,
            "children": list(self.children),
            "policy": self.policy,
            "as_of": self.as_of.isoformat(),
            "eligible": self.eligible,
            "proposals": [p.as_dict() for p in self.proposals],
            "excluded": self.excluded,
        }
        if self.excluded_options is not None:
            out["excluded_options"] = self.excluded_options
        return out


@dataclass(frozen=True)
class OptionCheck:
    """Whether one option is eligible for a child's unit, and if not, why."""

    eligible: bool
    reasons: list[str]
    children: tuple[str, ...]
    sibling_group: str | None


class Matcher:
    """Tables built once per dataset; capacity is kept current through `pools`."""

    def __init__(self, dataset: Dataset, policy: Policy | PolicySet | None = None) -> None:
        self.dataset = dataset
        if policy is None:
            policy = load_policy_set()
        # One profile for everybody, or each child's acting kommune's (DESIGN.md §5).
        self.policies = policy if isinstance(policy, PolicySet) else PolicySet(policy, forced=True)
        self.policy = self.policies.default
        self.pools = build_pools(dataset)
        self.options = build_option_table(dataset, self.pools)
        # Units are built on first use: ranking one child (the CLI's `rank`) builds one unit,
        # not all 2,900 of a national dataset (0.2 s).
        self._built_units: dict[str, Unit] = {}
        self._child_units: dict[str, Unit] | None = None
        self._index = (
            SpatialIndex(self.options.lat, self.options.lon)
            if len(self.options) >= PRUNE_THRESHOLD
            else None
        )
        # An even sample of the options' points: the share of it within a unit's reach says
        # whether the index would prune enough to pay for its query and the copy it makes.
        self._sample = self._points_sample(self.options)

    @cached_property
    def units(self) -> list[Unit]:
        """Every unit, in arrival order (a unit built before by `unit_for` is reused)."""
        inputs = self._unit_inputs
        built = self._built_units
        return [
            built.get(plan[1][0].child_id) or build_unit(self.dataset, plan, inputs)
            for plan in self._plans
        ]

    @cached_property
    def unit_of_child(self) -> dict[str, Unit]:
        return {cid: u for u in self.units for cid in u.child_ids}

    @cached_property
    def _plans(self) -> list[UnitPlan]:
        return plan_units(self.dataset, self.policies)

    @cached_property
    def _plan_of_child(self) -> dict[str, UnitPlan]:
        return {m.child_id: plan for plan in self._plans for m in plan[1]}

    @cached_property
    def _unit_inputs(self) -> UnitInputs:
        return unit_inputs(self.dataset, self.pools)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(
        self, unit: Unit, opts: OptionTable, as_of: date, free: IntArray | None = None
    ) -> Evaluation:
        """Reasons, warnings and score terms of every option in `opts` for `unit`."""
        free = self.pools.free if free is None else free
        policy = self.policy_for(unit)
        view = make_view(unit, opts, free, as_of.toordinal())
        reasons = _reasons(view, policy)
        warnings = evaluate_warnings(view, policy)
        score, terms = score_terms(view, policy)
        return Evaluation(opts, reasons, warnings, score, terms, view.home_km)

    def _screen(
        self, unit: Unit, opts: OptionTable, as_of: date, free: IntArray
    ) -> tuple[IntArray, Evaluation]:
        """Every option's reasons, and the evaluation of the eligible options alone (a
        national table is mostly left out: scores, terms, warnings and the km to schools and
        daycares are computed for the few hundred options that can be proposed). The same
        numbers as `evaluate`, elementwise (tested)."""
        policy = self.policy_for(unit)
        day = as_of.toordinal()
        full = make_view(unit, opts, free, day)
        reasons = _reasons(full, policy)
        view = narrow(full, np.flatnonzero(reasons == 0))
        sub = view.opts
        score, terms = score_terms(view, policy)
        warnings = evaluate_warnings(view, policy)
        none_left_out = np.zeros(len(sub), dtype=np.int64)
        return reasons, Evaluation(sub, none_left_out, warnings, score, terms, view.home_km)

    def edges(
        self,
        unit: Unit,
        opts: OptionTable,
        candidates: IntArray | None,
        as_of_day: int,
        free: IntArray,
    ) -> tuple[OptionTable, IntArray, FloatArray]:
        """The options of `opts` (those at `candidates`, or all) that pass the rules that
        read no distance, the indices among them of those eligible for `unit`, and their
        scores: `evaluate`'s eligible rows and scores without its warnings and reasons,
        which the batch matcher does not read.

        The rules that read no distance go first, on every option; the distances, the
        rules that read them and the score terms only on the options left."""
        policy = self.policy_for(unit)
        full = make_view(unit, opts, free, as_of_day)
        ok = passes(full, policy, DISTANCE_FREE)
        keep = np.flatnonzero(ok) if candidates is None else candidates[ok[candidates]]
        view = narrow(full, keep)
        sub = view.opts
        eligible = np.flatnonzero(passes(view, policy, DISTANCE_RULES))
        score, _ = score_terms(view, policy)
        return sub, eligible, score[eligible]

    def policy_for(self, unit: Unit) -> Policy:
        """The profile of the unit's acting kommune (a sibling group acts as its first child)."""
        return self.policies.for_kommune(unit.kommune)

    @staticmethod
    def _points_sample(opts: OptionTable) -> tuple[FloatArray, FloatArray, FloatArray]:
        # Sorted already: dropping repeats by hand spares np.unique's import of numpy.ma
        # (20 ms of a CLI ranking).
        at = np.linspace(0, len(opts) - 1, min(len(opts), PRUNE_SAMPLE)).astype(np.int64)
        at = at[np.r_[True, at[1:] != at[:-1]]] if len(at) else at
        return opts.x[at], opts.y[at], opts.z[at]

    def candidates(self, unit: Unit) -> IntArray | None:
        """Indices of options within the practical maximum; None (all of them) when there is
        no index, or when most options are within reach: with Denmark's 300 km nearly all
        are, and a query that returns 51,700 of 52,000 options, then a copy of them, cost
        half the time of the ranking it was to spare (measured)."""
        if self._index is None or not len(self.options):
            return None
        limit = self.policy_for(unit).max_km
        within = float(np.mean(arc_km((unit.home,), *self._sample)[0] <= limit))
        if within > PRUNE_WHEN_WITHIN:
            return None
        return self._index.within(unit.home[0], unit.home[1], limit)

    def evaluate_unit(self, unit: Unit, as_of: date) -> tuple[Evaluation, Evaluation, int]:
        """The unit against its network and against the (pruned) option table.

        Returns the network evaluation, the option evaluation and the number of options
        pruned away as TOO_FAR without being examined.
        """
        free = self.pools.free
        options, pruned = self._reachable(unit)
        return (
            self.evaluate(unit, unit.network, as_of, free),
            self.evaluate(unit, options, as_of, free),
            pruned,
        )

    def _reachable(self, unit: Unit) -> tuple[OptionTable, int]:
        """The option table, pruned to the unit's reach where the index prunes, and how many
        options the pruning left out."""
        idx = self.candidates(unit)
        if idx is None:
            return self.options, 0
        return self.options.take(idx), len(self.options) - len(idx)

    def split_units(self, units: list[Unit]) -> tuple[list[Unit], list[str | None]]:
        """Each sibling group as its own children, with the group id beside each."""
        if self._child_units is None:
            singles = build_units(self.dataset, self.pools, self.policies, split=True)
            self._child_units = {u.unit_id: u for u in singles}
        out: list[Unit] = []
        group: list[str | None] = []
        for unit in units:
            for cid in unit.child_ids:
                out.append(self._child_units[cid])
                group.append(unit.sibling_group if unit.size > 1 else None)
        return out, group

    def excluded_counts(self, unit: Unit, as_of: date) -> dict[str, int]:
        """How many options each reason leaves out for this unit: the reasons of
        `evaluate_unit`, without the scores and warnings it works out as well (a batch asks
        this of every unit left without a place: 0.4 s nationally)."""
        options, pruned = self._reachable(unit)
        policy = self.policy_for(unit)
        day = as_of.toordinal()
        screens = [
            (table, _reasons(make_view(unit, table, self.pools.free, day), policy))
            for table in (unit.network, options)
        ]
        return self._excluded_counts(screens, pruned)

    def evaluate_option(
        self, child_id: str, option_id: str, kind: str, as_of: date | None = None
    ) -> OptionCheck:
        """One option against the child's unit (its sibling group), without ranking the rest:
        the check a hold needs. Same rules, same capacity as `rank`."""
        unit = self.unit_for(child_id)
        tier = Kind(kind).tier
        day = as_of or date.today()
        reasons: list[str] = []
        found = False
        for table in (unit.network, self.options):
            idx = np.flatnonzero((table.option_id == option_id) & (table.tier == tier))
            if len(idx) == 0:
                continue
            found = True
            ev = self.evaluate(unit, table.take(idx), day)
            if ev.reasons[0] == 0:
                return OptionCheck(True, [], unit.child_ids, unit.sibling_group)
            reasons = reasons_of(int(ev.reasons[0]))
        return OptionCheck(False, reasons if found else [], unit.child_ids, unit.sibling_group)

    # -- ranking ----------------------------------------------------------------------------
    def unit_for(self, child_id: str) -> Unit:
        if "unit_of_child" in self.__dict__ or "units" in self.__dict__:
            try:
                return self.unit_of_child[child_id]
            except KeyError:
                raise UnknownChild(child_id) from None
        unit = self._built_units.get(child_id)
        if unit is None:
            plan = self._plan_of_child.get(child_id)
            if plan is None:
                raise UnknownChild(child_id)
            unit = build_unit(self.dataset, plan, self._unit_inputs)
            for cid in unit.child_ids:
                self._built_units[cid] = unit
        return unit

    def rank(
        self,
        child_id: str,
        *,
        top: int | None = 10,
        why_not: bool = False,
        as_of: date | None = None,
    ) -> Ranking:
        as_of = as_of or date.today()
        unit = self.unit_for(child_id)
        free = self.pools.free
        options, pruned = self._reachable(unit)
        # A screen has a fixed cost (some hundred numpy calls): a child without a network
        # does not pay it for an empty table. (One table of network and options would pay
        # it once, but copying 50,000 options to join them costs more.)
        tables = (unit.network, options) if len(unit.network) else (options,)
        screens = [self._screen(unit, table, as_of, free) for table in tables]
        order, eligible = self._order(tuple(ev for _, ev in screens), top)
        shown = order
        km = self._shown_km(unit, shown)
        proposals = [
            self._proposal(rank, unit, ev, i, free, km[rank - 1])
            for rank, (ev, i) in enumerate(shown, start=1)
        ]
        left_out = tuple((table, r) for table, (r, _) in zip(tables, screens, strict=True))
        excluded = self._excluded_counts(left_out, pruned)
        listed = self._excluded_options(left_out, pruned) if why_not else None
        return Ranking(
            child_id,
            unit.sibling_group,
            unit.child_ids,
            self.policy_for(unit).name,
            as_of,
            proposals,
            eligible,
            excluded,
            listed,
        )

    @staticmethod
    def _order(
        evaluations: tuple[Evaluation, ...], top: int | None = None
    ) -> tuple[list[tuple[Evaluation, int]], int]:
        """The first `top` eligible options of all evaluations in (tier, score, option id)
        order (all with None), and how many are eligible."""
        picks = [(ev, ev.eligible) for ev in evaluations]
        which = np.concatenate([np.full(len(idx), k) for k, (_, idx) in enumerate(picks)])
        index = np.concatenate([idx for _, idx in picks])
        tier = np.concatenate([ev.opts.tier[idx] for ev, idx in picks])
        score = np.concatenate([ev.score[idx] for ev, idx in picks])
        key = np.concatenate([ev.opts.order_key[idx] for ev, idx in picks])
        order = np.lexsort((key, score, tier))
        if top is not None:
            order = order[:top]  # only the shown ones become Python objects
        return [(picks[int(which[j])][0], int(index[j])) for j in order], len(index)

    @staticmethod
    def _shown_km(unit: Unit, shown: list[tuple[Evaluation, int]]) -> list[dict[str, float | None]]:
        """Km on the ellipsoid from each shown option to the child's school(s), daycare(s)
        and home (the mean where a sibling group has several), in one vectorised pass."""
        lat = np.array([ev.opts.lat[i] for ev, i in shown], dtype=np.float64)
        lon = np.array([ev.opts.lon[i] for ev, i in shown], dtype=np.float64)
        # Every anchor (schools, daycares, home) against every shown option in one call.
        groups = (unit.schools, unit.daycares, (unit.home,))
        here = np.array([p for points in groups for p in points], dtype=np.float64)
        km = ellipsoid_km(here[:, :1], here[:, 1:], lat[None, :], lon[None, :])

        def mean_km(first: int, points: tuple[tuple[float, float], ...]) -> list[float | None]:
            if not points:
                return [None] * len(shown)
            mean = km[first : first + len(points)].mean(axis=0)
            return [round(float(v), 1) for v in mean]

        n_school, n_daycare = len(unit.schools), len(unit.daycares)
        school = mean_km(0, unit.schools)
        daycare = mean_km(n_school, unit.daycares)
        home = mean_km(n_school + n_daycare, (unit.home,))
        return [
            {"school": s, "daycare": d, "home": h}
            for s, d, h in zip(school, daycare, home, strict=True)
        ]

    def _proposal(
        self,
        rank: int,
        unit: Unit,
        ev: Evaluation,
        i: int,
        free: IntArray,
        distance_km: dict[str, float | None],
    ) -> Proposal:
        tier = int(ev.opts.tier[i])
        return Proposal(
            rank=rank,
            option_id=str(ev.opts.option_id[i]),
            kind=KINDS[tier - 1].value,
            tier=tier,
            score=float(ev.score[i]),
            terms={name: float(values[i]) for name, values in ev.terms.items()},
            distance_km=distance_km,
            free_places=int(free[ev.opts.pool[i]]),
            warnings=warnings_of(int(ev.warnings[i])),
            kommune_code=str(ev.opts.kommune[i]) or None,
            label=str(ev.opts.label[i]),
            wish_weight=wish_weight(self.policy_for(unit), unit.max_age) if unit.wishes else None,
        )

    @staticmethod
    def _excluded_counts(
        screens: Iterable[tuple[OptionTable, IntArray]], pruned: int
    ) -> dict[str, int]:
        """How many options each reason leaves out, from (table, reasons) pairs."""
        counts: dict[str, int] = {}
        # Only the options left out, once (most of a national table is).
        left_out = np.concatenate([reasons[reasons != 0] for _, reasons in screens])
        for bit, reason in enumerate(REASON_ORDER):
            n = int(np.count_nonzero(left_out & (1 << bit)))
            n += pruned if reason is Reason.TOO_FAR else 0
            if n:
                counts[reason.value] = n
        return counts

    def _excluded_options(
        self, screens: tuple[tuple[OptionTable, IntArray], ...], pruned: int
    ) -> list[dict[str, Any]]:
        """Every option left out with its reasons, from (table, reasons) pairs; options the
        spatial index pruned are TOO_FAR."""
        rows: list[tuple[int, int, dict[str, Any]]] = []
        for opts, reasons in screens:
            for i in np.flatnonzero(reasons):
                tier = int(opts.tier[i])
                rows.append(
                    (
                        tier,
                        int(opts.order_key[i]),
                        {
                            "option_id": str(opts.option_id[i]),
                            "kind": KINDS[tier - 1].value,
                            "reasons": reasons_of(int(reasons[i])),
                        },
                    )
                )
        if pruned:
            examined: set[tuple[str, int]] = set()
            for opts, _ in screens:  # network rows (tier 1) never match an option's key
                examined |= {
                    (str(o), int(t)) for o, t in zip(opts.option_id, opts.tier, strict=True)
                }
            for j in range(len(self.options)):
                key = (str(self.options.option_id[j]), int(self.options.tier[j]))
                if key not in examined:
                    rows.append(
                        (
                            key[1],
                            int(self.options.order_key[j]),
                            {
                                "option_id": key[0],
                                "kind": KINDS[key[1] - 1].value,
                                "reasons": [Reason.TOO_FAR.value],
                            },
                        )
                    )
        rows.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in rows]
