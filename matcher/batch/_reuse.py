"""A build's edges kept for the next build: what-if scenarios share most of their edges.

A unit's edges depend only on the unit itself, its policy profile, its network persons, the
offerable option rows and the free places of their homes (`_pairs.pair_edges`). A scenario
adds, removes, pauses or resizes some homes; every other (unit, home) edge is the one the base
had. So the next build takes the kept edges of every unit it shares with the kept build (equal
as a record) to every home whose rows and free places are unchanged, asks the pair kernel for
those units' edges to the changed homes alone, and builds every new unit in full. The edges
are then put in the order a cold build gives them (unit, then home), which is the order a
cold build's solver reads: the problem is the cold one, column for column (tested, for every
kind of change).

Nothing is reused when the policies or the date differ, when the network records are not
the very records of the kept build (compared by identity: scenarios change homes, never the
network), or when the free places of some network person changed (the network edges are
never rebuilt for a kept unit).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from matcher.batch._pairs import EDGE_DTYPES, OFFER_COLUMNS, PAIR_UNITS, pair_edges_in_calls
from matcher.tables import BoolArray, IntArray, OptionTable, Unit
from models.enums import Kind

if TYPE_CHECKING:
    from matcher.policy import PolicySet
    from matcher.rank import Matcher
    from models.domain import NetworkPerson

__all__ = ["EdgeMemo"]

_NETWORK_TIER = Kind.NETWORK.tier
_TIERS = 5  # tiers are 1-4: (pool, tier) as pool * _TIERS + tier
# The row columns an edge reads, but the pool (compared by its id) and the tie-break order
# (a rank over the whole table, which a new row shifts: re-read from the new table).
_ROW_COLUMNS = tuple(c for c in OFFER_COLUMNS if c not in ("pool", "order_key"))
_UNITS_PER_CALL = PAIR_UNITS  # per call of the pair kernel for the changed homes
# A unit's record as compared (its network table, built on first read, is not a field).
_UNIT_FIELDS = tuple(f.name for f in fields(Unit) if f.compare)

Columns = list[np.ndarray]
# Builds the full edges of some units: unit (index into them), pool, tier, cost, option, order.
FullBuild = Callable[[tuple[Unit, ...]], Columns]
# A unit's reachable rows of the offerable table (None: all), as `_Offerable.candidates`.
Reach = Callable[[Unit], IntArray | None]
UnitKey = tuple[object, ...]


_unit_fields = operator.attrgetter(*_UNIT_FIELDS)


def _unit_key(unit: Unit) -> UnitKey:
    """The unit's compared fields: what its edges depend on, without holding the unit (and
    the dataset its network source holds)."""
    key: UnitKey = _unit_fields(unit)
    return key


@dataclass(frozen=True)
class _Built:
    """One build's edges and what they were built from (arrays and records only: no
    matcher, unit or option table is held)."""

    policies: PolicySet
    network: tuple[NetworkPerson, ...]  # the dataset's network records (compared by identity)
    as_of: date
    n_units: int
    unit_at: dict[UnitKey, int]  # unit -> its block of edges
    bounds: IntArray  # unit k's edges are bounds[k]:bounds[k + 1]
    pool_ids: tuple[str, ...]  # pool index -> id
    free: IntArray
    offers: dict[str, np.ndarray]  # the offerable rows' columns an edge reads, pool and tier
    columns: Columns

    @classmethod
    def of(
        cls,
        matcher: Matcher,
        units: Sequence[Unit],
        as_of: date,
        free: IntArray,
        offers: OptionTable,
        columns: Columns,
    ) -> _Built:
        return cls(
            matcher.policies,
            matcher.dataset.network,
            as_of,
            len(units),
            {_unit_key(unit): k for k, unit in enumerate(units)},
            np.searchsorted(columns[0], np.arange(len(units) + 1)),
            tuple(matcher.pools.pool_id),
            free.copy(),
            {name: np.asarray(getattr(offers, name)) for name in (*_ROW_COLUMNS, "pool")},
            columns,
        )


class EdgeMemo:
    """The edges of the first build of the largest cohort for one base and policy: later
    builds are compared with it, so a scenario's changed homes are its own changes to the
    base (a sweep's first scenario is usually the baseline), not those of the scenario
    before it as well. Safe to share between threads: a build reads one kept build, and a
    larger cohort replaces it whole."""

    def __init__(self) -> None:
        self._built: _Built | None = None
        self._lock = threading.Lock()
        self._last = threading.local()  # per thread: jobs of a thread pool share a memo

    @property
    def reused(self) -> int:
        """Edges taken from the kept build by this thread's last call."""
        return int(getattr(self._last, "reused", 0))

    def columns(
        self,
        matcher: Matcher,
        units: tuple[Unit, ...],
        as_of: date,
        free: IntArray,
        offers: OptionTable,
        reach: Reach,
        build: FullBuild,
    ) -> Columns:
        """The edge columns of `units` (a cold build's, in its order), reusing the kept
        build's where they cannot differ; this build is kept if its cohort is larger."""
        with self._lock:
            built = self._built
        plan = _Plan.of(built, matcher, as_of, free, offers) if built is not None else None
        if plan is None:
            columns = build(units)
            self._last.reused = 0
        else:
            columns = plan.columns(matcher, units, free, offers, reach, build)
            self._last.reused = plan.reused
        for column in columns:  # kept, and shared with the problem: nobody writes them
            column.flags.writeable = False
        with self._lock:
            if self._built is None or len(units) > self._built.n_units:
                self._built = _Built.of(matcher, units, as_of, free, offers, columns)
        return columns


@dataclass
class _Plan:
    """What of a kept build holds for a new one: the new pools whose homes are unchanged."""

    built: _Built
    to_new: IntArray  # kept pool -> new pool (-1: gone)
    clean: BoolArray  # per new pool: its rows and free places are the kept ones
    reused: int = 0

    @classmethod
    def of(
        cls, built: _Built, matcher: Matcher, as_of: date, free: IntArray, offers: OptionTable
    ) -> _Plan | None:
        if (
            built.as_of != as_of
            or built.network is not matcher.dataset.network
            or built.policies != matcher.policies
        ):
            return None
        pool_ids = matcher.pools.pool_id
        new_index = matcher.pools.index()
        if len(new_index) < len(pool_ids) or len(set(built.pool_ids)) < len(built.pool_ids):
            return None  # a pool id twice: pools could not be matched by id
        to_new = np.array([new_index.get(p, -1) for p in built.pool_ids], dtype=np.int64)
        kept_free = np.full(len(free), -1, dtype=np.int64)
        known = to_new >= 0
        kept_free[to_new[known]] = built.free[known]
        clean = kept_free == free  # a new home, or one with other free places, is changed
        old_keys, old_rows = _row_keys(built.offers["pool"], built.offers["tier"], to_new)
        new_keys, new_rows = _row_keys(offers.pool, offers.tier, np.arange(len(free)))
        if len(np.unique(old_keys)) < len(old_keys) or len(np.unique(new_keys)) < len(new_keys):
            return None  # two rows of one tier at a home: rows are matched by (home, tier)
        # A row only one side has changes its home; so does one whose columns differ.
        clean[np.setxor1d(old_keys, new_keys) // _TIERS] = False
        matched = np.intersect1d(old_keys, new_keys)
        if len(matched):
            old = old_rows[_positions(old_keys, matched)]
            new = new_rows[_positions(new_keys, matched)]
            differs = np.zeros(len(matched), dtype=bool)
            for name in _ROW_COLUMNS:
                differs |= ~_same(built.offers[name][old], getattr(offers, name)[new])
            clean[matched[differs] // _TIERS] = False
        # A network person's home that changed would need the kept units' network edges
        # built again: not done, so nothing is reused then.
        persons = [new_index[p.person_id] for p in matcher.dataset.network]
        if not clean[np.array(persons, dtype=np.int64)].all():
            return None
        return cls(built, to_new, clean)

    def columns(
        self,
        matcher: Matcher,
        units: tuple[Unit, ...],
        free: IntArray,
        offers: OptionTable,
        reach: Reach,
        build: FullBuild,
    ) -> Columns:
        at = [self.built.unit_at.get(_unit_key(unit), -1) for unit in units]
        kept = np.array([k for k, a in enumerate(at) if a >= 0], dtype=np.int64)
        fresh = np.array([k for k, a in enumerate(at) if a < 0], dtype=np.int64)
        parts = [self._kept_edges(kept, np.array(at, dtype=np.int64)[kept], offers)]
        self.reused = len(parts[0][0])
        parts.append(self._changed_homes(matcher, units, kept, free, offers, reach))
        if len(fresh):
            part = build(tuple(units[k] for k in fresh.tolist()))
            part[0] = fresh[part[0]]
            parts.append(part)
        columns = [np.concatenate([part[k] for part in parts]) for k in range(len(EDGE_DTYPES))]
        # A cold build's order: by unit, then pool (each (unit, pool) is in one part only).
        order = np.argsort(columns[0] * (len(free) + 1) + columns[1], kind="stable")
        return [column[order] for column in columns]

    def _kept_edges(self, units: IntArray, blocks: IntArray, offers: OptionTable) -> Columns:
        """The kept edges of `units` (new indices; `blocks`: their kept blocks) to unchanged
        homes, with pools and tie-break orders of the new tables."""
        built = self.built
        starts, ends = built.bounds[blocks], built.bounds[blocks + 1]
        lengths = ends - starts
        edges = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            int(lengths.sum())
        )
        unit = np.repeat(units, lengths)
        pool = self.to_new[built.columns[1][edges]]
        keep = pool >= 0
        keep[keep] = self.clean[pool[keep]]
        edges, unit, pool = edges[keep], unit[keep], pool[keep]
        tier = built.columns[2][edges]
        order = built.columns[5][edges]
        # An offer's order is its rank in the new table; a network person's is the unit's own.
        offer = tier != _NETWORK_TIER
        order_at = np.zeros((len(self.clean) + 1) * _TIERS, dtype=np.int64)
        order_at[offers.pool * _TIERS + offers.tier] = offers.order_key
        order = np.where(offer, order_at[pool * _TIERS + tier], order).astype(EDGE_DTYPES[5])
        return [unit, pool, tier, built.columns[3][edges], built.columns[4][edges], order]

    def _changed_homes(
        self,
        matcher: Matcher,
        units: tuple[Unit, ...],
        kept: IntArray,
        free: IntArray,
        offers: OptionTable,
        reach: Reach,
    ) -> Columns:
        """The kept units' edges to the offerable rows of changed homes (pair kernel)."""
        rows = np.flatnonzero(~self.clean[offers.pool])
        if not len(rows) or not len(kept):
            return [np.zeros(0, dtype=dtype) for dtype in EDGE_DTYPES]
        table = offers.take(rows)
        in_rows = np.full(len(offers), -1, dtype=np.int64)
        in_rows[rows] = np.arange(len(rows))

        def reach_changed(unit: Unit) -> IntArray | None:
            found = reach(unit)
            if found is None:
                return None
            found = in_rows[found]
            return found[found >= 0]

        members = [units[k] for k in kept.tolist()]
        cols = pair_edges_in_calls(
            members, matcher.policy_for, table, reach_changed, free, _UNITS_PER_CALL, False
        )
        cols[0] = kept[cols[0]]
        return cols


def _row_keys(pool: IntArray, tier: np.ndarray, pool_map: IntArray) -> tuple[IntArray, IntArray]:
    """Each row's (home, tier) as pool_map[pool] * _TIERS + tier, and the row, for the rows
    whose home pool_map maps (a home gone has no new index: its edges are dropped anyway)."""
    pools = pool_map[pool]
    rows = np.flatnonzero(pools >= 0)
    return pools[rows] * _TIERS + tier[rows].astype(np.int64), rows


def _positions(keys: IntArray, wanted: IntArray) -> IntArray:
    """Where each of `wanted` (all present) is in `keys` (unique)."""
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys, wanted, sorter=order)]


def _same(a: np.ndarray, b: np.ndarray) -> BoolArray:
    """Element-wise equality, NaN equal to NaN (a non-network row's closeness is NaN)."""
    equal = np.asarray(a == b, dtype=bool)
    if a.dtype.kind == "f":
        equal |= np.isnan(a) & np.isnan(b)
    return equal
