"""Columnar arrays built once from a dataset: the only form the matcher computes on.

`OptionTable` holds one row per placement offer: a foster family is a `foster` offer and,
when it offers combination placements, also a `combination` offer that shares the family's
places (one capacity pool). An institution is an `institution` offer and, with
combination places, a separate `combination` offer with its own pool. Network persons are
offers too, but only for the children whose network they are in, so each unit gets its own
small network table (`network_table`). Capacity lives in pools so that an offer's free
places always reflect every other offer of the same home.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from geo.distance import to_unit_vectors
from matcher.policy import Policy, PolicySet
from models.dataset import Dataset, combination_pool
from models.domain import Child, NetworkPerson
from models.enums import NEEDS, InstitutionKind, Kind, NetworkStatus

__all__ = [
    "KINDS",
    "STATUS_CODES",
    "UNIT_ROOT",
    "Node",
    "OptionTable",
    "Pools",
    "Unit",
    "UnitInputs",
    "UnitPlan",
    "build_option_table",
    "build_pools",
    "build_unit",
    "build_units",
    "needs_mask",
    "network_table",
    "network_tables",
    "plan_units",
    "shortest_lengths",
    "stacked",
    "unit_inputs",
]

KINDS: tuple[Kind, ...] = (Kind.NETWORK, Kind.FOSTER, Kind.COMBINATION, Kind.INSTITUTION)
STATUS_CODES = {s: i for i, s in enumerate(NetworkStatus)}
_NO_STATUS = -1
_NEED_BIT = {n: 1 << i for i, n in enumerate(NEEDS)}
UNLIMITED = 99

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def needs_mask(needs: frozenset[str]) -> int:
    mask = 0
    for n in needs:
        mask |= _NEED_BIT[n]
    return mask


@dataclass
class Pools:
    """Capacity shared by offers: places, occupied and reserved per pool (one home)."""

    pool_id: list[str]
    places: IntArray
    occupied: IntArray
    reserved: IntArray

    @property
    def free(self) -> IntArray:
        return np.maximum(self.places - self.occupied - self.reserved, 0)

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.pool_id)}


@dataclass(frozen=True)
class OptionTable:
    """One row per offer; every column is a numpy array of the same length."""

    option_id: npt.NDArray[np.object_]
    tier: npt.NDArray[np.int8]  # 1 network, 2 foster, 3 combination, 4 institution
    lat: FloatArray
    lon: FloatArray
    # Unit-vector components of each option's point (geo.distance.arc_km): the distances
    # of ranking need no trigonometry on the options.
    x: FloatArray
    y: FloatArray
    z: FloatArray
    pool: IntArray
    at_family: BoolArray  # foster or combination offer of a foster family
    is_network: BoolArray
    level: npt.NDArray[np.int8]  # family level 1-3; institution max_level; network 0
    min_age: npt.NDArray[np.int8]
    max_age: npt.NDArray[np.int8]
    target_mask: npt.NDArray[np.int32]
    max_siblings: npt.NDArray[np.int16]
    acute: BoolArray  # takes emergency placements
    paused: BoolArray
    secure: BoolArray
    confirmed_day: npt.NDArray[np.int32]  # date.toordinal() of vacancy_confirmed; -1 if never
    status: npt.NDArray[np.int8]  # network status code; -1 for families and institutions
    willing: BoolArray
    closeness: FloatArray  # weighted relation path length (network); NaN otherwise
    kommune: npt.NDArray[np.object_]
    label: npt.NDArray[np.object_]  # foster level / institution kind / relation, for display
    order_key: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.option_id)

    def take(self, index: IntArray | BoolArray) -> OptionTable:
        """The rows at `index` (positions, or a mask). Each column is copied when first read:
        the batch matcher takes each unit's few hundred eligible rows of 7,000 and reads 10 of
        the 25 columns, and copying them all was a seventh of building the national edges.
        Tables are never written after they are built, so a late copy is the same copy;
        `dataclasses.replace` does not apply to the rows taken (nothing replaces a column)."""
        rows = np.flatnonzero(index) if index.dtype == np.bool_ else index
        return _TakenRows(self, rows.astype(np.int64, copy=False))


_OPTION_COLUMNS = tuple(f.name for f in fields(OptionTable))
_OPTION_COLUMN_SET = frozenset(_OPTION_COLUMNS)


class _LazyColumns(OptionTable):
    """An option table whose columns are made on first read (`_column`) and then kept;
    pickle and copy make a plain table of it. No dataclass __init__: the subclasses keep
    what they derive the columns from."""

    def _column(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:  # only for attributes not read before
        if name not in _OPTION_COLUMN_SET:
            raise AttributeError(name)
        column = self._column(name)
        object.__setattr__(self, name, column)
        return column

    def __reduce__(self) -> tuple[Any, ...]:
        return OptionTable, tuple(getattr(self, name) for name in _OPTION_COLUMNS)


class _TakenRows(_LazyColumns):
    """Some rows of an option table; a column is copied out of the table on first read."""

    _table: OptionTable
    _index: IntArray

    def __init__(self, table: OptionTable, index: IntArray) -> None:
        if isinstance(table, _TakenRows):  # rows of rows: index the first table once
            index = table._index[index]
            table = table._table
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_index", index)

    def _column(self, name: str) -> np.ndarray:
        return getattr(self._table, name)[self._index]

    def __len__(self) -> int:
        return len(self._index)


def stacked(first: OptionTable, second: OptionTable) -> OptionTable:
    """The rows of `first`, then those of `second`; a column is joined on first read."""
    return _StackedRows(first, second)


class _StackedRows(_LazyColumns):
    """Two option tables one after the other; a column is joined on first read."""

    _parts: tuple[OptionTable, OptionTable]

    def __init__(self, first: OptionTable, second: OptionTable) -> None:
        object.__setattr__(self, "_parts", (first, second))

    def _column(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name) for part in self._parts])

    def __len__(self) -> int:
        return len(self._parts[0]) + len(self._parts[1])


def _ordinal(day: date | None) -> int:
    return -1 if day is None else day.toordinal()


def build_pools(dataset: Dataset) -> Pools:
    ids: list[str] = []
    places: list[int] = []
    occupied: list[int] = []
    for f in dataset.families:
        ids.append(f.family_id)
        places.append(f.places)
        occupied.append(f.occupied)
    for i in dataset.institutions:
        ids.append(i.institution_id)
        places.append(i.places)
        occupied.append(i.occupied)
        ids.append(combination_pool(i.institution_id))
        places.append(i.combination_places)
        occupied.append(i.combination_occupied)
    seen: set[str] = set()
    # A network carer's places are taken by the children already placed with them.
    with_carer: dict[str, int] = {}
    for placement in dataset.active_placement.values():
        if placement.kind is Kind.NETWORK:
            with_carer[placement.option_id] = with_carer.get(placement.option_id, 0) + 1
    for p in dataset.network:
        if p.person_id not in seen:
            seen.add(p.person_id)
            ids.append(p.person_id)
            places.append(p.places)
            occupied.append(with_carer.get(p.person_id, 0))
    n = len(ids)
    return Pools(
        ids,
        np.array(places, dtype=np.int64),
        np.array(occupied, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )


_OPTION_DTYPES: dict[str, Any] = {
    "option_id": object,
    "tier": np.int8,
    "lat": float,
    "lon": float,
    "pool": np.int64,
    "at_family": bool,
    "is_network": bool,
    "level": np.int8,
    "min_age": np.int8,
    "max_age": np.int8,
    "target_mask": np.int32,
    "max_siblings": np.int16,
    "acute": bool,
    "paused": bool,
    "secure": bool,
    "confirmed_day": np.int32,
    "status": np.int8,
    "willing": bool,
    "closeness": float,
    "kommune": object,
    "label": object,
}
_OPTION_FIELDS = tuple(_OPTION_DTYPES)


def _rows_to_table(rows: list[dict[str, object]]) -> OptionTable:
    return _tuples_to_table([tuple(r[k] for k in _OPTION_FIELDS) for r in rows])


def _tuples_to_table(rows: list[tuple[Any, ...]]) -> OptionTable:
    """Offers given as tuples in `_OPTION_FIELDS` order."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_OPTION_FIELDS)
    cols = {
        k: np.array(v, dtype=t) if rows else np.zeros(0, dtype=t)
        for (k, t), v in zip(_OPTION_DTYPES.items(), columns, strict=True)
    }
    cols["x"], cols["y"], cols["z"] = (
        np.ascontiguousarray(c) for c in to_unit_vectors(cols["lat"], cols["lon"]).T
    )
    # Ties of a ranking are broken by option id, then tier: that order as one integer.
    keys = list(zip(map(str, columns[0]), columns[1], strict=True))
    order = sorted(range(len(rows)), key=keys.__getitem__)
    key = np.empty(len(rows), dtype=np.int64)
    key[order] = np.arange(len(rows))
    cols["order_key"] = key
    return OptionTable(**cols)


def build_option_table(dataset: Dataset, pools: Pools) -> OptionTable:
    """Foster, combination and institution offers of every family and institution."""
    pool_of = pools.index()
    rows: list[tuple[Any, ...]] = []
    # Tuples in `_OPTION_FIELDS` order, and each target set's mask and each level's label
    # worked out once (per-row dicts and lookups cost half of a CLI ranking's table).
    masks: dict[frozenset[str], int] = {}
    labels: dict[Any, tuple[int, str]] = {}
    for f in dataset.families:
        mask = masks.get(f.target_groups)
        if mask is None:
            mask = masks[f.target_groups] = needs_mask(f.target_groups)
        level = labels.get(f.level)
        if level is None:
            level = labels[f.level] = (int(f.level), f.level.label)
        confirmed = _ordinal(f.vacancy_confirmed)
        pool = pool_of[f.family_id]
        for tier in (2, 3) if f.combination else (2,):
            rows.append(
                (
                    f.family_id, tier, f.place.lat, f.place.lon, pool, True, False,
                    level[0], f.min_age, f.max_age, mask, f.max_siblings, f.acute,
                    f.paused, False, confirmed, _NO_STATUS, True, np.nan, f.kommune_code,
                    level[1],
                )
            )  # fmt: skip
    for i in dataset.institutions:
        mask = needs_mask(i.target_groups)
        confirmed = _ordinal(i.vacancy_confirmed)
        secure = i.kind == InstitutionKind.SIKRET
        offers = [(4, pool_of[i.institution_id])]
        if i.combination_places > 0:
            offers.append((3, pool_of[combination_pool(i.institution_id)]))
        for tier, pool in offers:
            rows.append(
                (
                    i.institution_id, tier, i.place.lat, i.place.lon, pool, False, False,
                    i.max_level, i.min_age, i.max_age, mask, UNLIMITED, i.acute, False,
                    secure, confirmed, _NO_STATUS, True, np.nan, i.kommune_code,
                    i.kind.value,
                )
            )  # fmt: skip
    return _tuples_to_table(rows)


@dataclass(frozen=True)
class Unit:
    """What is placed as one: a single child or a whole sibling group."""

    unit_id: str
    child_ids: tuple[str, ...]
    sibling_group: str | None
    kommune: str
    size: int
    min_age: int
    max_age: int
    support: int
    needs_mask: int
    acute: bool
    combination_ok: bool
    secure_decision: bool
    home: tuple[float, float]
    schools: tuple[tuple[float, float], ...]
    daycares: tuple[tuple[float, float], ...]
    keep_away: tuple[tuple[float, float, float], ...]
    excluded: frozenset[str]
    wishes: frozenset[str]
    arrival: int
    # (option_id, tier) of the homes where a sibling outside this unit lives now: offered
    # first within their tier (joins_sibling), Barnets Lov § 52(3).
    sibling_homes: frozenset[tuple[str, int]] = frozenset()
    # Built on first use: ranking one child (the CLI's `rank`) needs one unit's network, not
    # every unit's graph.
    _network_of: Callable[[], OptionTable] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def network(self) -> OptionTable:
        """The unit's network persons as offers (see `network_table`)."""
        assert self._network_of is not None
        return self._network_of()


def _unit(
    unit_id: str,
    members: list[Child],
    dataset: Dataset,
    pools: dict[str, int],
    policy: Policy,
    excluded: dict[str, set[str]],
    keep: dict[str, list[tuple[float, float, float]]],
    arrival: int,
    sibling_homes: frozenset[tuple[str, int]] = frozenset(),
) -> Unit:
    first = members[0]
    return Unit(
        unit_id=unit_id,
        child_ids=tuple(c.child_id for c in members),
        sibling_group=first.sibling_group,
        kommune=first.kommune_code,
        size=len(members),
        min_age=min(c.age for c in members),
        max_age=max(c.age for c in members),
        support=max(c.support_level for c in members),
        needs_mask=int(np.bitwise_or.reduce([needs_mask(c.needs) for c in members])),
        acute=any(c.acute for c in members),
        combination_ok=all(c.combination_ok for c in members),
        secure_decision=all(c.secure_decision for c in members),
        home=(first.home.lat, first.home.lon),
        schools=tuple((c.school.lat, c.school.lon) for c in members if c.school),
        daycares=tuple((c.daycare.lat, c.daycare.lon) for c in members if c.daycare),
        keep_away=tuple(k for c in members for k in keep.get(c.child_id, [])),
        excluded=frozenset(o for c in members for o in excluded.get(c.child_id, set())),
        wishes=frozenset(w for c in members for w in c.wishes),
        arrival=arrival,
        sibling_homes=sibling_homes,
        _network_of=_NetworkSource(members, dataset, pools, policy),
    )


def _homes_of(dataset: Dataset, child_ids: list[str]) -> frozenset[tuple[str, int]]:
    placed = dataset.active_placement
    return frozenset((placed[c].option_id, placed[c].kind.tier) for c in child_ids if c in placed)


Node = tuple[str, ...]
UNIT_ROOT: Node = ("unit",)


def shortest_lengths(graph: dict[Node, dict[Node, float]], root: Node) -> dict[Node, float]:
    """Dijkstra from `root` over an undirected graph given as adjacency maps: the length of
    the lightest path to every node it reaches.

    A unit's network has a handful of nodes; importing networkx for it cost 0.2 s of a
    0.8 s `placement rank` (tests/matcher check it against networkx)."""
    lengths: dict[Node, float] = {}
    frontier: list[tuple[float, int, Node]] = [(0.0, 0, root)]
    pushed = 1  # a tie-breaker: nodes themselves are never compared
    while frontier:
        length, _, node = heapq.heappop(frontier)
        if node in lengths:
            continue
        lengths[node] = length
        for neighbour, weight in graph.get(node, {}).items():
            if neighbour not in lengths:
                heapq.heappush(frontier, (length + weight, pushed, neighbour))
                pushed += 1
    return lengths


def network_table(
    members: list[Child], dataset: Dataset, pools: dict[str, int], policy: Policy
) -> OptionTable:
    """The unit's network persons as offers, with closeness from the network graph
    (`_network_rows`)."""
    return _rows_to_table(_network_rows(members, dataset, pools, policy))


@dataclass(frozen=True, eq=False)
class _NetworkSource:
    """What a unit's network table is built from, when it is first read."""

    members: list[Child]
    dataset: Dataset
    pools: dict[str, int]
    policy: Policy

    def __call__(self) -> OptionTable:
        return network_table(self.members, self.dataset, self.pools, self.policy)


def network_tables(units: Sequence[Unit]) -> None:
    """The tables `network_table` builds one by one (25 small arrays each: 0.5 s of a
    national batch), for the units that have none yet, as slices of one table of all their
    rows. A unit's rows are by person id, one tier: its tie-break order is its row number."""
    todo: list[Unit] = []
    rows: list[list[dict[str, object]]] = []
    for unit in units:
        source = unit._network_of
        if "network" not in unit.__dict__ and isinstance(source, _NetworkSource):
            todo.append(unit)
            rows.append(_network_rows(source.members, source.dataset, source.pools, source.policy))
    whole = _rows_to_table([row for unit_rows in rows for row in unit_rows])
    columns = {name: getattr(whole, name) for name in _OPTION_COLUMNS}
    first = 0
    for unit, unit_rows in zip(todo, rows, strict=True):
        last = first + len(unit_rows)
        table = {name: column[first:last] for name, column in columns.items()}
        table["order_key"] = np.arange(last - first, dtype=np.int64)
        unit.__dict__["network"] = OptionTable(**table)  # where cached_property keeps it
        first = last


def _network_rows(
    members: list[Child], dataset: Dataset, pools: dict[str, int], policy: Policy
) -> list[dict[str, object]]:
    """The unit's network persons as offer rows, by person id, with closeness from the
    network graph.

    The graph has the unit (the child or the sibling group) as root, an edge to each person
    the relation runs to directly, and an edge to each person whose relation runs `via`
    another; an edge weighs the relation's policy weight. Closeness is the shortest path.
    """
    graph: dict[Node, dict[Node, float]] = {UNIT_ROOT: {}}
    first_row: dict[str, NetworkPerson] = {}
    for child in members:
        for person in dataset.network_by_child.get(child.child_id, ()):
            weight = policy.relation_weights[person.relation]
            source = UNIT_ROOT if person.via is None else ("person", person.via)
            target = ("person", person.person_id)
            if graph.get(source, {}).get(target, np.inf) > weight:
                graph.setdefault(source, {})[target] = weight
                graph.setdefault(target, {})[source] = weight
            first_row.setdefault(person.person_id, person)
    lengths = shortest_lengths(graph, UNIT_ROOT)
    rows: list[dict[str, object]] = []
    for pid in sorted(first_row):
        p = first_row[pid]
        rows.append(
            {
                "option_id": pid,
                "tier": 1,
                "lat": p.place.lat,
                "lon": p.place.lon,
                "pool": pools[pid],
                "at_family": False,
                "is_network": True,
                "level": 0,
                "min_age": 0,
                "max_age": 22,
                "target_mask": 0,
                "max_siblings": UNLIMITED,
                "acute": False,
                "paused": False,
                "secure": False,
                "confirmed_day": -1,
                "status": STATUS_CODES[p.status],
                "willing": p.willing,
                "closeness": float(lengths.get(("person", pid), np.inf)),
                "kommune": "",
                "label": p.relation.value,
            }
        )
    return rows


# What a unit is made of, before it is built: (unit id, members, acting policy, arrival
# position, homes of siblings placed already).
UnitPlan = tuple[str, list[Child], Policy, int, frozenset[tuple[str, int]]]


def plan_units(dataset: Dataset, policy: Policy | PolicySet, split: bool = False) -> list[UnitPlan]:
    """One unit per sibling group (at its first member's position) and per single child;
    with `split`, one unit per child. Cheap: no arrays are built here."""
    groups = dataset.sibling_groups
    plans: list[UnitPlan] = []
    done: set[str] = set()
    ordered = sorted(
        enumerate(dataset.children),
        key=lambda ic: (ic[1].arrival if ic[1].arrival is not None else ic[0], ic[0]),
    )
    policies = policy if isinstance(policy, PolicySet) else PolicySet(policy, forced=True)
    placed = dataset.active_placement
    for position, (_, child) in enumerate(ordered):
        acting = policies.for_kommune(child.kommune_code)  # a group acts as its first member
        group = groups[child.sibling_group] if child.sibling_group else (child.child_id,)
        if child.sibling_group and not split:
            if child.sibling_group in done:
                continue
            done.add(child.sibling_group)
            members = [dataset.child_by_id[c] for c in group]
            waiting = [m for m in members if m.child_id not in placed]
            if 0 < len(waiting) < len(members):
                # Part of the group lives somewhere already: the rest is placed as one unit and
                # offered the placed siblings' homes; each placed sibling stays its own unit.
                homes = _homes_of(dataset, [m.child_id for m in members if m.child_id in placed])
                plans.append((child.sibling_group, waiting, acting, position, homes))
                for m in members:
                    if m.child_id in placed:
                        plans.append((m.child_id, [m], acting, position, frozenset()))
                continue
            plans.append((child.sibling_group, members, acting, position, frozenset()))
        else:
            others = [c for c in group if c != child.child_id]
            homes = _homes_of(dataset, others)
            plans.append((child.child_id, [child], acting, position, homes))
    return plans


UnitInputs = tuple[dict[str, int], dict[str, set[str]], dict[str, list[tuple[float, float, float]]]]


def unit_inputs(dataset: Dataset, pools: Pools) -> UnitInputs:
    """What building any unit reads besides its members: the pool of every offer, and the
    exclusions and keep-away addresses by child."""
    excluded: dict[str, set[str]] = {}
    for e in dataset.exclusions:
        excluded.setdefault(e.child_id, set()).add(e.option_id)
    keep: dict[str, list[tuple[float, float, float]]] = {}
    for k in dataset.keep_away:
        keep.setdefault(k.child_id, []).append((k.place.lat, k.place.lon, k.min_km))
    return pools.index(), excluded, keep


def build_unit(dataset: Dataset, plan: UnitPlan, inputs: UnitInputs) -> Unit:
    unit_id, members, acting, position, homes = plan
    pool_of, excluded, keep = inputs
    return _unit(unit_id, members, dataset, pool_of, acting, excluded, keep, position, homes)


def build_units(
    dataset: Dataset, pools: Pools, policy: Policy | PolicySet, split: bool = False
) -> list[Unit]:
    """Every unit of `plan_units`, built."""
    inputs = unit_inputs(dataset, pools)
    return [build_unit(dataset, plan, inputs) for plan in plan_units(dataset, policy, split)]
