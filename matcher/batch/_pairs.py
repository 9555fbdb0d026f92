"""The edges of many units at once, over (unit, option row) pairs.

The ranking core states each hard constraint and score term for one unit against an option
table (`matcher.rules`, `matcher.scoring`). Asked once per unit, a national cohort's 2,900
units paid some 400 numpy calls each for their few hundred edges, and the calls, not the
arithmetic, were the cost (2.8 s). Here the same rules and terms are applied to the whole
cohort at once:

1. the rules that read no distance, over blocks of units x the offerable options (numpy
   broadcasting), and row by row over every unit's network persons;
2. the distances from each pair's unit's home, schools and daycares (`pair_arc_km`), the
   rules that read them and the score terms, one numpy call each over all the pairs left;
3. one edge per (unit, home): the best tier, then score, then option (`_unit_edges`).

The numbers are the core's, bit for bit: the same float operations in the same order on
each pair, a term's weighted value rounded as the core rounds it, and the sum taken over the
terms in the core's order (a term that does not apply to a unit adds exact zeros). The
columns are tested equal to the unit-by-unit build (`_problem._unit_edges`) on generated
datasets with every rule, term and policy profile in play. `STATED` names every constraint
and term this module states: one added to the core fails a test until it is stated here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.distance import arc_km, pair_arc_km, point_vectors
from matcher.policy import TERMS, Policy, wish_weight
from matcher.rules import _ACUTE_NETWORK, _REJECTED, LOCAL_KM, per_tier
from matcher.tables import BoolArray, FloatArray, IntArray, OptionTable, Unit, network_tables
from models.enums import Kind

__all__ = [
    "EDGE_DTYPES",
    "OFFER_COLUMNS",
    "PAIR_UNITS",
    "STATED",
    "pair_edges",
    "pair_edges_in_calls",
]

# The core's constraints and terms that this module states over pairs: a test holds them
# to `matcher.rules.CONSTRAINTS` and `matcher.scoring.TERMS`. The terms are the policy's
# names; one the kernel does not compute fails at `raws.pop` in `_edges_of_pairs`.
STATED = (
    (
        "no_capacity",
        "age_out_of_range",
        "level_too_low",
        "needs_not_covered",
        "network_rejected",
        "network_unwilling",
        "not_acute",
        "combination_not_suitable",
        "combination_too_far",
        "secure_needs_decision",
        "sibling_group_too_large",
        "excluded",
        "keep_away",
        "paused",
        "too_far",
    ),
    TERMS,
)
_TERM_NAMES = STATED[1]
# The edge columns' types: unit, pool, tier, cost, option id, tie-break order.
EDGE_DTYPES = (np.int64, np.int64, np.int8, np.int64, object, np.int32)
_COMBINATION = Kind.COMBINATION.tier
# Units whose pairs the kernel holds at once (`pair_edges_in_calls`): its arrays grow with
# units x options (national: 1,000 units make about 400,000 pairs, some 60 MB of columns).
PAIR_UNITS = 1000
# Units per block of the distance-free screen: 256 x 2,600 national options is 0.7 M pairs,
# a few MB per mask.
_BLOCK = 256
# The option columns the pairs read.
OFFER_COLUMNS = (
    "option_id",
    "tier",
    "x",
    "y",
    "z",
    "pool",
    "at_family",
    "is_network",
    "level",
    "min_age",
    "max_age",
    "target_mask",
    "max_siblings",
    "acute",
    "paused",
    "secure",
    "status",
    "willing",
    "closeness",
    "order_key",
)


@dataclass(frozen=True)
class _Columns:
    """Option columns, or unit columns: numpy arrays by name, read as attributes (the
    names the core's rules read)."""

    arrays: dict[str, np.ndarray]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.arrays[name]
        except KeyError:
            raise AttributeError(name) from None


class _Pairs:
    """The option columns of the pairs, each gathered on first read from the kept network
    rows and the offers, one table after the other (`index`: each pair's row there)."""

    def __init__(self, network: dict[str, np.ndarray], offers: OptionTable, index: IntArray):
        self._network, self._offers, self.index = network, offers, index
        self._source: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        column = self._columns.get(name)
        if column is None:
            source = self._source.get(name)
            if source is None:
                parts = [self._network[name], getattr(self._offers, name)]
                source = self._source[name] = np.concatenate(parts)
            column = self._columns[name] = source[self.index]
        return column

    def narrowed(self, keep: IntArray) -> _Pairs:
        out = _Pairs(self._network, self._offers, self.index[keep])
        out._source = self._source
        return out


def _unit_columns(units: Sequence[Unit]) -> dict[str, np.ndarray]:
    def column(name: str, dtype: Any) -> np.ndarray:
        return np.array([getattr(u, name) for u in units], dtype=dtype)

    return {
        "size": column("size", np.int64),
        "min_age": column("min_age", np.int64),
        "max_age": column("max_age", np.int64),
        "support": column("support", np.int64),
        "needs_mask": column("needs_mask", np.int32),
        "acute": column("acute", bool),
        "combination_ok": column("combination_ok", bool),
        "secure_decision": column("secure_decision", bool),
    }


def _left_out_without_distance(u: _Columns, o: _Columns, free: IntArray) -> BoolArray:
    """True where a distance-free rule leaves the option out: `matcher.rules`' rules from
    no_capacity to paused (excluded apart), over unit columns that broadcast against the
    option columns (a block's units as a column vector, or one unit per option row)."""
    support = u.support
    out = free < u.size  # no_capacity
    out |= (u.min_age < o.min_age) | (u.max_age > o.max_age)  # age_out_of_range
    out |= o.at_family & ((support >= 4) | (o.level < support))  # level_too_low
    out |= o.is_network & (support >= 4)
    out |= ~o.at_family & ~o.is_network & (o.level < support)
    out |= ((u.needs_mask & ~o.target_mask) != 0) & ~o.is_network  # needs_not_covered
    out |= o.is_network & (o.status == _REJECTED)  # network_rejected
    out |= o.is_network & ~o.willing  # network_unwilling
    network_ok = o.is_network & np.isin(o.status, _ACUTE_NETWORK)
    out |= u.acute & ~(o.acute | network_ok)  # not_acute
    out |= (o.tier == _COMBINATION) & ~u.combination_ok  # combination_not_suitable
    out |= o.secure & ~u.secure_decision  # secure_needs_decision
    out |= o.max_siblings < u.size  # sibling_group_too_large
    out |= o.paused  # paused
    return out


def _screened_pairs(
    units: Sequence[Unit],
    unit_cols: dict[str, np.ndarray],
    offers: OptionTable,
    candidates: list[IntArray | None],
    free: IntArray,
) -> tuple[IntArray, IntArray]:
    """(unit, row of `offers`) of every pair the distance-free rules keep, by unit."""
    offer_cols = _Columns({name: getattr(offers, name) for name in OFFER_COLUMNS})
    offer_free = free[offers.pool]
    found_units, found_rows = [], []
    for first in range(0, len(units), _BLOCK):
        block = _Columns({k: v[first : first + _BLOCK, None] for k, v in unit_cols.items()})
        unit_at, row = np.nonzero(~_left_out_without_distance(block, offer_cols, offer_free))
        found_units.append(unit_at + first)
        found_rows.append(row)
    pair_unit = np.concatenate(found_units) if found_units else np.zeros(0, np.int64)
    pair_row = np.concatenate(found_rows) if found_rows else np.zeros(0, np.int64)
    # Reach (the spatial index's pruning) and exclusions: only the few units they concern.
    dropped = np.zeros(len(pair_unit), dtype=bool)
    bounds = np.searchsorted(pair_unit, np.arange(len(units) + 1))
    for u, unit in enumerate(units):
        first, last = bounds[u], bounds[u + 1]
        reach = candidates[u]
        if reach is not None:
            dropped[first:last] |= ~np.isin(pair_row[first:last], reach)
        if unit.excluded:
            ids = offers.option_id[pair_row[first:last]]
            dropped[first:last] |= np.isin(ids, list(unit.excluded))
    return pair_unit[~dropped], pair_row[~dropped]


def _network_pairs(
    units: Sequence[Unit], unit_cols: dict[str, np.ndarray], free: IntArray
) -> tuple[IntArray, dict[str, np.ndarray]]:
    """(unit, row) of every network person the distance-free rules keep, the rows being
    those of all the units' network tables one after the other (returned as columns);
    `units` is not empty."""
    network_tables(units)  # every unit's at once, where not built yet
    tables = [unit.network for unit in units]
    owner = np.repeat(np.arange(len(units)), [len(t) for t in tables])
    rows = {name: np.concatenate([getattr(t, name) for t in tables]) for name in OFFER_COLUMNS}
    per_row = _Columns({k: v[owner] for k, v in unit_cols.items()})
    kept = ~_left_out_without_distance(per_row, _Columns(rows), free[rows["pool"]])
    excluding = np.array([bool(u.excluded) for u in units], dtype=bool)
    for at in np.flatnonzero(kept & excluding[owner]):  # excluded: the few units it concerns
        if rows["option_id"][at] in units[owner[at]].excluded:
            kept[at] = False
    return owner[kept], {name: column[kept] for name, column in rows.items()}


class _Policies:
    """The distinct policy profiles of the units, and per unit the index of its own."""

    def __init__(self, policies: list[Policy]) -> None:
        index: dict[int, int] = {}
        self.profiles: list[Policy] = []
        at = []
        for policy in policies:
            k = index.get(id(policy))
            if k is None:
                k = index[id(policy)] = len(self.profiles)
                self.profiles.append(policy)
            at.append(k)
        self.of_unit = np.array(at, dtype=np.int64)

    def number(self, read: Callable[[Policy], float]) -> FloatArray:
        """A number of each profile (`read(policy)`), per profile."""
        return np.array([read(p) for p in self.profiles], dtype=np.float64)

    def per_tier(self, name: str, home_is_anchor: bool = False) -> FloatArray:
        """`matcher.rules.per_tier` of each profile (rows), indexed by tier; home_km as the
        core weighs it for a unit with neither school nor daycare (`home_is_anchor`)."""
        rows = []
        for p in self.profiles:
            weights = per_tier(p, name)
            if name == "home_km" and home_is_anchor:
                weights = np.maximum(weights, per_tier(p, "school_km"))
            rows.append(weights)
        return np.array(rows, dtype=np.float64).reshape(len(self.profiles), 5)


def _mean_km(
    units: Sequence[Unit],
    anchors: list[FloatArray],
    schools: bool,
    pair_unit: IntArray,
    per_unit: IntArray,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
) -> tuple[FloatArray, BoolArray]:
    """Per pair, the mean km from its unit's schools (or daycares) to its option, as
    `View.school_km` has it (0 where the unit has none), and which units have any.
    `anchors[u]`: the unit vectors of unit u's schools, then daycares; `per_unit`: the
    number of pairs of each unit (the pairs are in unit order)."""
    first = [0 if schools else len(u.schools) for u in units]
    count = np.array(
        [len(u.schools) if schools else len(u.daycares) for u in units], dtype=np.int64
    )
    # One point, the common case: its vector repeated over the unit's pairs.
    vector = np.zeros((len(units), 3))
    for u in np.flatnonzero(count == 1).tolist():
        vector[u] = anchors[u][first[u]]
    one = np.repeat(count == 1, per_unit)
    out = np.zeros(len(pair_unit))
    if one.all():
        a, b, c = (np.repeat(vector[:, j], per_unit) for j in range(3))
        out = pair_arc_km(x, y, z, a, b, c)
    elif one.any():  # (daycares: a fifth of the units have one)
        sel = np.flatnonzero(one)
        a, b, c = (vector[pair_unit[sel], j] for j in range(3))
        out[sel] = pair_arc_km(x[sel], y[sel], z[sel], a, b, c)
    # Several (a sibling group's schools): their mean, as the core takes it.
    for k in np.unique(count[count > 1]).tolist():
        with_k = np.flatnonzero(count == k)
        vectors = np.stack([anchors[u][first[u] : first[u] + k] for u in with_k])
        at = np.full(len(units), -1, dtype=np.int64)
        at[with_k] = np.arange(len(with_k))
        sel = np.flatnonzero(np.repeat(count == k, per_unit))
        mine = vectors[at[pair_unit[sel]]]  # (pairs, k, 3)
        km = np.stack(
            [
                pair_arc_km(x[sel], y[sel], z[sel], mine[:, j, 0], mine[:, j, 1], mine[:, j, 2])
                for j in range(k)
            ]
        )
        out[sel] = km.mean(axis=0)
    return out, count > 0


def pair_edges(
    units: Sequence[Unit],
    policies: list[Policy],
    offers: OptionTable,
    candidates: list[IntArray | None],
    free: IntArray,
    networks: bool = True,
) -> list[np.ndarray]:
    """unit (index into `units`), pool, tier, cost, option id and tie-break order of every
    edge, unit by unit and pool by pool: what `_unit_edges` gives each unit in turn.
    `policies[u]` is unit u's profile; `candidates[u]` its reachable rows of `offers`
    (None: all). Without `networks`, the edges to `offers` alone (the units' network
    persons left out)."""
    if not units:
        return [np.zeros(0, dtype=dtype) for dtype in EDGE_DTYPES]
    unit_cols = _unit_columns(units)
    pair_unit, pair_row = _screened_pairs(units, unit_cols, offers, candidates, free)
    if networks:
        network_unit, network = _network_pairs(units, unit_cols, free)
    else:
        network_unit = np.zeros(0, dtype=np.int64)
        network = {name: getattr(offers, name)[:0] for name in OFFER_COLUMNS}
    # The pairs, by unit: its network persons first, then its options, as the core's
    # stacked table has them (an edge does not depend on the order; the slices do).
    n_network = len(network_unit)
    index = np.concatenate([np.arange(n_network), n_network + pair_row])
    pair_unit = np.concatenate([network_unit, pair_unit])
    by_unit = np.argsort(pair_unit, kind="stable")
    pairs = _Pairs(network, offers, index[by_unit])
    return _edges_of_pairs(units, policies, unit_cols, pair_unit[by_unit], pairs)


def pair_edges_in_calls(
    units: Sequence[Unit],
    policy_for: Callable[[Unit], Policy],
    offers: OptionTable,
    reach: Callable[[Unit], IntArray | None],
    free: IntArray,
    per_call: int,
    networks: bool = True,
) -> list[np.ndarray]:
    """`pair_edges` of `units`, `per_call` units at a time so that the kernel's arrays stay
    bounded; `reach(unit)` gives the unit's candidates. Units are numbered into `units`."""
    parts = []
    for start in range(0, max(len(units), 1), per_call):
        some = units[start : start + per_call]
        policies = [policy_for(unit) for unit in some]
        candidates = [reach(unit) for unit in some]
        cols = pair_edges(some, policies, offers, candidates, free, networks)
        cols[0] += start
        parts.append(cols)
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate([part[k] for part in parts]) for k in range(len(EDGE_DTYPES))]


def _edges_of_pairs(
    units: Sequence[Unit],
    policies: list[Policy],
    unit_cols: dict[str, np.ndarray],
    pair_unit: IntArray,
    pairs: _Pairs,
) -> list[np.ndarray]:
    profiles = _Policies(policies)
    x, y, z = pairs["x"], pairs["y"], pairs["z"]
    tier = pairs["tier"].astype(np.int64)
    # Each unit's points as the core makes them: the home alone, then schools and daycares
    # together (`View.home_km`, `View._anchor_km`).
    homes = point_vectors(tuple(u.home for u in units))
    # Every unit's schools and daycares in one call (a call per unit was a tenth of a
    # national build), then each unit's rows of it.
    anchor_points = [(*u.schools, *u.daycares) for u in units]
    every = point_vectors(tuple(p for points in anchor_points for p in points))
    ends = np.cumsum([len(points) for points in anchor_points]).tolist()
    anchors = np.split(every, ends[:-1])
    per_unit = np.bincount(pair_unit, minlength=len(units))
    home_km = pair_arc_km(x, y, z, *(np.repeat(homes[:, j], per_unit) for j in range(3)))
    # The distance rules: combination_too_far, keep_away, too_far.
    of_unit = profiles.of_unit[pair_unit]
    left_out = (tier == _COMBINATION) & (
        home_km > profiles.number(lambda p: p.max_commute_km)[of_unit]
    )
    left_out |= home_km > profiles.number(lambda p: p.max_km)[of_unit]
    bounds = np.searchsorted(pair_unit, np.arange(len(units) + 1))
    for u in [u for u, unit in enumerate(units) if unit.keep_away]:  # as `rules.keep_away`
        here = slice(bounds[u], bounds[u + 1])
        away = units[u].keep_away
        points = tuple((lat, lon) for lat, lon, _ in away)
        for km, (_, _, min_km) in zip(arc_km(points, x[here], y[here], z[here]), away, strict=True):
            left_out[here] |= km < min_km
    eligible = np.flatnonzero(~left_out)
    pair_unit = pair_unit[eligible]
    pairs = pairs.narrowed(eligible)
    tier, home_km = tier[eligible], home_km[eligible]
    x, y, z = pairs["x"], pairs["y"], pairs["z"]
    per_unit = np.bincount(pair_unit, minlength=len(units))
    bounds = np.concatenate([[0], np.cumsum(per_unit)])
    school_km, with_school = _mean_km(units, anchors, True, pair_unit, per_unit, x, y, z)
    daycare_km, with_daycare = _mean_km(units, anchors, False, pair_unit, per_unit, x, y, z)
    raws = _raw_terms(units, policies, unit_cols, profiles, pair_unit, bounds, pairs, tier, home_km)
    raws["school_km"] = school_km
    raws["daycare_km"] = daycare_km
    anchor = ~(with_school | with_daycare)
    # Weights by (profile, home is the anchor, tier), taken with one flat index per pair.
    where = (profiles.of_unit[pair_unit] * 2 + anchor[pair_unit]) * 5 + tier
    # The weighted terms summed in the core's order, one after the other: the core sums the
    # rows of a (terms x options) array along its first axis, which numpy does row by row.
    total = np.zeros(len(pair_unit))
    row = np.empty(len(pair_unit))
    for name in _TERM_NAMES:
        weights = np.stack([profiles.per_tier(name), profiles.per_tier(name, True)], axis=1)
        raw = raws.pop(name)
        if np.count_nonzero(raw) < len(raw) // 4:  # a term of few pairs (relation, wish)
            at = np.flatnonzero(raw)
            total[at] += np.round(weights.ravel()[where[at]] * raw[at], 2) + 0.0
            continue
        np.take(weights.ravel(), where, out=row)
        row *= raw
        np.round(row, 2, out=row)
        row += 0.0  # no -0.0, as the core
        total += row
    score = np.round(total, 2, out=total)
    cost = np.rint(score * 100).astype(np.int64)
    return _best_per_home(pair_unit, pairs, tier, cost)


def _raw_terms(
    units: Sequence[Unit],
    policies: list[Policy],
    unit_cols: dict[str, np.ndarray],
    profiles: _Policies,
    pair_unit: IntArray,
    bounds: IntArray,
    cols: _Pairs,
    tier: IntArray,
    home_km: FloatArray,
) -> dict[str, FloatArray]:
    """The raw value of every term of `matcher.scoring` but school_km and daycare_km, per
    pair; 0 where the term does not apply to the pair's unit (a term the core leaves out
    then adds exact zeros to the sum, which changes no score). Unit u's pairs are
    bounds[u]:bounds[u + 1]."""
    is_network = cols["is_network"]
    local = profiles.per_tier(LOCAL_KM)[profiles.of_unit[pair_unit], tier]
    over = np.maximum(cols["level"].astype(np.float64) - unit_cols["support"][pair_unit], 0.0)
    joins = np.zeros(len(pair_unit))
    wish = np.zeros(len(pair_unit))
    option_id = cols["option_id"]
    for u in [u for u, unit in enumerate(units) if unit.sibling_homes or unit.wishes]:
        unit = units[u]
        here = slice(bounds[u], bounds[u + 1])
        if unit.sibling_homes:
            at = np.zeros(bounds[u + 1] - bounds[u], dtype=bool)
            for home_id, home_tier in unit.sibling_homes:
                at |= (option_id[here] == home_id) & (tier[here] == home_tier)
            joins[here] = at.astype(np.float64)
        if unit.wishes:
            asked = np.isin(option_id[here], list(unit.wishes)).astype(np.float64)
            wish[here] = asked * wish_weight(policies[u], unit.max_age)
    return {
        "relation": np.where(is_network, cols["closeness"], 0.0),
        "home_km": home_km,
        "beyond_local_km": np.maximum(home_km - local, 0.0),
        "joins_sibling": joins,
        "level_overshoot": np.where(is_network, 0.0, over),
        "wish": wish,
    }


def _best_per_home(
    pair_unit: IntArray, cols: _Pairs, tier: IntArray, cost: IntArray
) -> list[np.ndarray]:
    """One edge per (unit, home): lower tier, then lower score, then the option's order
    (`_unit_edges`); by unit, then pool. A home has one row per tier in a unit's tables,
    so only a family offering both foster and combination care has two to choose from."""
    pool, order = cols["pool"], cols["order_key"]
    key = pair_unit * (int(pool.max(initial=0)) + 1) + pool
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    same = sorted_key[1:] == sorted_key[:-1]
    keep = np.ones(len(by_key), dtype=bool)
    keep[1:] &= ~same
    keep[:-1] &= ~same
    shared = np.flatnonzero(~keep)  # positions (in key order) of homes with two rows
    if len(shared):
        rows = by_key[shared]
        ranked = np.lexsort((order[rows], cost[rows], tier[rows], sorted_key[shared]))
        ranked_key = sorted_key[shared][ranked]
        best = np.ones(len(ranked), dtype=bool)
        best[1:] = ranked_key[1:] != ranked_key[:-1]
        keep[shared[ranked[best]]] = True
    chosen = by_key[keep]
    return [
        pair_unit[chosen].astype(np.int64, copy=False),
        pool[chosen].astype(np.int64, copy=False),
        tier[chosen].astype(np.int8),
        cost[chosen],
        cols["option_id"][chosen].astype(object, copy=False),
        order[chosen].astype(np.int32),
    ]
