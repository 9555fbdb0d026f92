"""Batch matching of a cohort: choose the units, solve, and report assignments and KPIs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from geo.distance import haversine_km
from matcher.batch import (
    BatchProblem,
    EdgeMemo,
    Solution,
    build_problem,
    explain,
    import_solvers,
    solve,
)
from matcher.rank import Matcher
from matcher.tables import KINDS, Unit, network_tables
from models.dataset import combination_pool
from models.domain import Place
from models.enums import FosterLevel, InstitutionKind, Solver

__all__ = [
    "TAKEN_BY_OTHERS",
    "BatchResult",
    "KmStats",
    "Kpis",
    "SiblingGroups",
    "child_edges",
    "compute_kpis",
    "run_match",
    "select_units",
]

_OptionInfo = dict[tuple[str, int], tuple[float, float, str, str, float | None]]

# Reason for an unassigned child that had eligible options, all taken by other children
# of the cohort (an addition to the reason codes of DESIGN.md §4).
TAKEN_BY_OTHERS = "TAKEN_BY_OTHERS"
_FOSTER_LEVELS = frozenset(lv.label for lv in FosterLevel)


def select_units(
    matcher: Matcher, children: Iterable[str] | None = None, kommuner: Iterable[str] | None = None
) -> list[Unit]:
    """Units with a member among `children` or acting in `kommuner` (all units waiting for a
    place when neither); a sibling group always comes whole. Children with an active placement
    are matched only when named by id."""
    ids = set(children or ())
    codes = set(kommuner or ())
    unknown = ids - set(matcher.unit_of_child)
    if unknown:
        raise KeyError(sorted(unknown)[0])
    placed = matcher.dataset.active_placement

    def waiting(u: Unit) -> bool:
        return not all(c in placed for c in u.child_ids)

    if not ids and not codes:
        return [u for u in matcher.units if waiting(u)]
    return [
        u
        for u in matcher.units
        if ids.intersection(u.child_ids) or (u.kommune in codes and waiting(u))
    ]


@dataclass(frozen=True)
class KmStats:
    """Mean and 90th percentile of a distance, km (None when nobody has one)."""

    mean: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> KmStats:
        if not values:
            return cls()
        arr = np.array(values)
        return cls(round(float(arr.mean()), 2), round(float(np.percentile(arr, 90)), 2))

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True)
class SiblingGroups:
    total: int
    together: int
    split: int
    unplaced: int
    # Groups some home could take whole (eligible, with room before the batch), and the
    # share of those kept together: the fair measure of keeping siblings together.
    feasible_whole: int = 0
    together_share_of_feasible: float | None = None

    def as_dict(self) -> dict[str, int | float | None]:
        return asdict(self)


@dataclass(frozen=True)
class Kpis:
    """The planners' KPIs of one assignment."""

    children: int
    placed: int
    placed_share: float | None
    share_by_kind: dict[str, float]
    share_by_foster_level: dict[str, float]
    km_to_school: KmStats
    km_to_daycare: KmStats
    km_to_home: KmStats
    school_change_share: float | None
    sibling_groups: SiblingGroups
    placed_in_own_kommune_share: float | None
    free_places_left: dict[str, dict[str, int]]
    institution_daily_cost_dkk: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)  # nested stats and groups become dicts, fields in order
        # The sibling figures also flat, by the names planners and issue 18 use.
        g = self.sibling_groups
        out["sibling_groups_together"] = g.together
        out["sibling_groups_split"] = g.split
        out["sibling_groups_unplaced"] = g.unplaced
        out["sibling_groups_feasible_whole"] = g.feasible_whole
        out["sibling_together_share_of_feasible"] = g.together_share_of_feasible
        return out


@dataclass(frozen=True)
class BatchResult:
    solution: Solution
    problem: BatchProblem
    assignments: list[dict[str, Any]]
    unassigned: list[dict[str, Any]]
    kpis: Kpis
    # `explain`: children not at their first-ranked option, who holds it, cost if forced.
    explanations: list[dict[str, Any]] | None = None
    edges_seconds: float = 0.0  # building the problem's edges (the solver's input)

    def as_dict(self) -> dict[str, Any]:
        s = self.solution
        extra = {} if self.explanations is None else {"explanations": self.explanations}
        return {
            "status": s.status,
            "solver": s.solver,
            "seconds": round(s.seconds, 3),
            "edges_seconds": round(self.edges_seconds, 3),
            "objective": s.objective.as_dict(),
            "bound": s.bound,
            "gap": s.gap,
            "stages": s.stages,
            "notes": s.notes,
            "assignments": self.assignments,
            "unassigned": self.unassigned,
            "kpis": self.kpis.as_dict(),
            **extra,
        }


def run_match(
    matcher: Matcher,
    *,
    children: Iterable[str] | None = None,
    kommuner: Iterable[str] | None = None,
    solver: Solver | str = Solver.AUTO,
    time_limit: float | None = None,
    as_of: date | None = None,
    allow_sibling_split: bool = False,
    workers: int = 1,
    units: list[Unit] | None = None,
    deterministic: bool = False,
    explain_children: Iterable[str] | bool = False,
    edge_memo: EdgeMemo | None = None,
) -> BatchResult:
    """Solve the cohort: `units` when given, else those `select_units` picks. With
    `explain_children` (True: every child), each child not given its first-ranked option is
    explained (`matcher.batch.explain`; one exact re-solve per such option). `edge_memo`
    lends an earlier build's edges and keeps this one's (`matcher.batch.EdgeMemo`)."""
    as_of = as_of or date.today()
    if units is None:
        units = select_units(matcher, children, kommuner)
    started = time.perf_counter()
    groups = allow_sibling_split or any(u.size > 1 for u in units)
    problem = build_problem(
        matcher,
        units,
        as_of,
        allow_split=allow_sibling_split,
        # CP-SAT's import (0.5 s) while forked children build their share of the edges.
        meanwhile=import_solvers if groups else None,
        memo=edge_memo,
    )
    edges_seconds = time.perf_counter() - started
    solution = solve(problem, solver, time_limit, workers, deterministic)
    option_info = _option_info(matcher)
    assignments = _assignments(matcher, problem, solution, option_info)
    unassigned = _unassigned(matcher, problem, solution, as_of)
    kpis = compute_kpis(matcher, problem, solution, option_info)
    explanations = None
    if explain_children is not False:
        wanted = None if explain_children is True else list(explain_children)
        explanations = explain(problem, solution, wanted, time_limit, workers)
    return BatchResult(
        solution, problem, assignments, unassigned, kpis, explanations, edges_seconds
    )


Pair = tuple[float, float, float, float]  # lat, lon of a child's place; lat, lon of a home
# Km of pairs already asked for: the assignments and the KPIs (and every scenario of a
# sweep) ask for the same child-home pairs.
_PAIR_KM: dict[Pair, float] = {}
_PAIR_KM_MOST = 1 << 16


def _pair_kms(pairs: list[Pair]) -> list[float]:
    """Great-circle km of each pair; those not asked for before in one numpy call (one call
    per pair cost 0.25 s of a national match)."""
    known = {pair: km for pair in pairs if (km := _PAIR_KM.get(pair)) is not None}
    missing = list(dict.fromkeys(pair for pair in pairs if pair not in known))
    if missing:
        lat1, lon1, lat2, lon2 = np.array(missing, dtype=np.float64).T
        found = dict(zip(missing, haversine_km(lat1, lon1, lat2, lon2).tolist(), strict=True))
        known.update(found)
        if len(_PAIR_KM) + len(found) > _PAIR_KM_MOST:
            _PAIR_KM.clear()
        _PAIR_KM.update(found)
    return [known[pair] for pair in pairs]


class _Kms:
    """Child-to-home km asked for one pair at a time, worked out at once (`_pair_kms`)."""

    def __init__(self) -> None:
        self._pairs: list[Pair] = []

    def ask(self, place: Place | None, lat: float, lon: float) -> int:
        """Where the pair's km will be in `answer()`; -1 without a place."""
        if place is None:
            return -1
        self._pairs.append((place.lat, place.lon, lat, lon))
        return len(self._pairs) - 1

    def answer(self) -> list[float]:
        return _pair_kms(self._pairs)


def _assignments(
    matcher: Matcher, problem: BatchProblem, solution: Solution, option_info: _OptionInfo
) -> list[dict[str, Any]]:
    rows = []
    kms = _Kms()
    asks: list[tuple[int, int]] = []  # each row's school and home pairs
    for u, e in enumerate(solution.chosen):
        if e < 0:
            continue
        tier = int(problem.e_tier[e])
        option_id = str(problem.e_option[e])
        lat, lon = option_info[(option_id, tier)][:2]
        for cid in problem.units[u].child_ids:
            child = matcher.dataset.child_by_id[cid]
            asks.append((kms.ask(child.school, lat, lon), kms.ask(child.home, lat, lon)))
            rows.append(
                {
                    "child_id": cid,
                    "option_id": option_id,
                    "kind": KINDS[tier - 1].value,
                    "tier": tier,
                    "score": int(problem.e_cost[e]) / 100,
                    "sibling_group": problem.units[u].sibling_group or problem.group[u],
                }
            )
    km = kms.answer()
    for row, (school, home) in zip(rows, asks, strict=True):
        row["km_to_school"] = None if school < 0 else round(km[school], 2)
        row["km_to_home"] = None if home < 0 else round(km[home], 2)
    return sorted(rows, key=lambda r: r["child_id"])


def _unassigned(
    matcher: Matcher, problem: BatchProblem, solution: Solution, as_of: date
) -> list[dict[str, Any]]:
    edges_per_unit = np.bincount(problem.e_unit, minlength=problem.n_units)
    chosen = solution.chosen
    parent = problem.parent
    hub = problem.is_hub
    # A group unit whose members are units too speaks through them (split mode); a member
    # placed with its group is not unassigned.
    left = [
        int(u)
        for u in np.flatnonzero(chosen < 0)
        if not (hub[u] or (parent[u] >= 0 and chosen[parent[u]] >= 0))
    ]
    # Their network tables in one pass, where the edges did not build them (edges kept
    # from an earlier what-if scenario): one table at a time was 0.04 s per 50 units.
    network_tables([problem.units[u] for u in left])
    rows = []
    for u in left:
        unit = problem.units[u]
        reasons = matcher.excluded_counts(unit, as_of)
        if edges_per_unit[u]:
            reasons = {TAKEN_BY_OTHERS: int(edges_per_unit[u]), **reasons}
        group = unit.sibling_group or problem.group[u]
        for cid in unit.child_ids:
            rows.append({"child_id": cid, "sibling_group": group, "reasons": reasons})
    return sorted(rows, key=lambda r: r["child_id"])


def compute_kpis(
    matcher: Matcher,
    problem: BatchProblem,
    solution: Solution,
    option_info: _OptionInfo | None = None,
) -> Kpis:
    """The planners' KPIs of one assignment."""
    ds = matcher.dataset
    hub = problem.is_hub
    children = [
        ds.child_by_id[c]
        for u, unit in enumerate(problem.units)
        if not hub[u]
        for c in unit.child_ids
    ]
    n_children = len(children)
    where = child_edges(problem, solution.chosen)
    option_info = option_info or _option_info(matcher)
    by_kind = dict.fromkeys((k.value for k in KINDS), 0)
    by_level: dict[str, int] = {}
    km: dict[str, list[float]] = {"school": [], "daycare": [], "home": []}
    school_change = 0
    with_school = 0
    own_kommune = 0
    non_network = 0
    daily_cost = 0.0
    kms = _Kms()
    asked: list[tuple[str, int, str]] = []  # (name, pair, the child's kommune)
    for c in children:
        e = where.get(c.child_id, -1)
        if e < 0:
            continue
        tier = int(problem.e_tier[e])
        kind = KINDS[tier - 1].value
        by_kind[kind] += 1
        lat, lon, kommune, label, rate = option_info[(str(problem.e_option[e]), tier)]
        if tier in (2, 3) and label in _FOSTER_LEVELS:
            by_level[label] = by_level.get(label, 0) + 1
        for name, place in (("school", c.school), ("daycare", c.daycare), ("home", c.home)):
            if place is not None:
                asked.append((name, kms.ask(place, lat, lon), c.kommune_code))
        if tier != 1:
            non_network += 1
            own_kommune += kommune == c.kommune_code
        if tier == 4 and rate is not None:
            daily_cost += rate
    km_of = kms.answer()
    for name, at, kommune_code in asked:
        d = km_of[at]
        km[name].append(d)
        if name == "school":
            with_school += 1
            keep_km = matcher.policies.for_kommune(kommune_code).school_keep_km
            school_change += d > keep_km
    placed = sum(by_kind.values())
    sibling_groups = _sibling_groups(problem, where)
    return Kpis(
        children=n_children,
        placed=placed,
        placed_share=round(placed / n_children, 4) if n_children else None,
        share_by_kind={k: round(v / placed, 4) if placed else 0.0 for k, v in by_kind.items()},
        share_by_foster_level={k: round(v / placed, 4) for k, v in sorted(by_level.items())},
        km_to_school=KmStats.of(km["school"]),
        km_to_daycare=KmStats.of(km["daycare"]),
        km_to_home=KmStats.of(km["home"]),
        school_change_share=round(school_change / with_school, 4) if with_school else None,
        sibling_groups=sibling_groups,
        placed_in_own_kommune_share=round(own_kommune / non_network, 4) if non_network else None,
        free_places_left=_free_left(matcher, problem.pool_free - _used_places(problem, solution)),
        institution_daily_cost_dkk=round(daily_cost, 2),
    )


def child_edges(problem: BatchProblem, chosen: np.ndarray) -> dict[str, int]:
    """The edge that places each placed child (by its own unit or its group unit)."""
    out: dict[str, int] = {}
    for u in np.flatnonzero(chosen >= 0):
        for cid in problem.units[int(u)].child_ids:
            out[cid] = int(chosen[u])
    return out


def _sibling_groups(problem: BatchProblem, where: dict[str, int]) -> SiblingGroups:
    """Together (all at one home), split (at several homes, or some unplaced) or unplaced,
    counted over the groups of the cohort; `feasible_whole`: groups with an edge as a whole
    group, i.e. some home could take them together."""
    with_edges = np.bincount(problem.e_unit, minlength=problem.n_units) > 0
    together = split = unplaced = feasible = feasible_together = 0
    for u, unit in enumerate(problem.units):
        if unit.size < 2:
            continue
        homes = {int(problem.e_pool[where[c]]) if c in where else -1 for c in unit.child_ids}
        whole = len(homes) == 1 and -1 not in homes
        together += whole
        unplaced += homes == {-1}
        split += not whole and homes != {-1}
        if with_edges[u]:
            feasible += 1
            feasible_together += whole
    return SiblingGroups(
        total=together + split + unplaced,
        together=together,
        split=split,
        unplaced=unplaced,
        feasible_whole=feasible,
        together_share_of_feasible=round(feasible_together / feasible, 4) if feasible else None,
    )


def _used_places(problem: BatchProblem, solution: Solution) -> np.ndarray:
    used = np.zeros_like(problem.pool_free)
    for u, e in enumerate(solution.chosen):
        if e >= 0:
            used[problem.e_pool[e]] += problem.size[u]
    return used


def _free_left(matcher: Matcher, left: np.ndarray) -> dict[str, dict[str, int]]:
    index = matcher.pools.index()
    out: dict[str, dict[str, int]] = {"foster": {}, "institution": {}, "combination": {}}
    for f in matcher.dataset.families:
        if not f.paused:
            level = f.level.label
            out["foster"][level] = out["foster"].get(level, 0) + int(left[index[f.family_id]])
    for i in matcher.dataset.institutions:
        kind = i.kind.value
        out["institution"][kind] = out["institution"].get(kind, 0) + int(
            left[index[i.institution_id]]
        )
        comb = int(left[index[combination_pool(i.institution_id)]])
        out["combination"]["institution"] = out["combination"].get("institution", 0) + comb
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def _option_info(matcher: Matcher) -> _OptionInfo:
    """(option id, tier) -> lat, lon, kommune, label, daily rate."""
    rates = {i.institution_id: i.daily_rate for i in matcher.dataset.institutions}
    institution_kinds = {x.value for x in InstitutionKind}
    info: _OptionInfo = {}
    table = matcher.options
    # Whole columns as lists: reading numpy arrays one element at a time took 0.2 s
    # nationally.
    columns = (table.option_id, table.tier, table.lat, table.lon, table.kommune, table.label)
    for oid, tier, lat, lon, kommune, label in zip(*(c.tolist() for c in columns), strict=True):
        info[(str(oid), int(tier))] = (
            float(lat),
            float(lon),
            str(kommune),
            str(label),
            rates.get(str(oid)) if label in institution_kinds else None,
        )
    # Network persons as each unit's network table has them (`tables.network_table`: the
    # first row of a person among the unit's children; a later unit's row wins), read from
    # the dataset: building the tables of units whose edges a forked child built cost 0.3 s.
    network = matcher.dataset.network_by_child
    for unit in matcher.units:
        seen: set[str] = set()
        for child_id in unit.child_ids:
            for person in network.get(child_id, ()):
                if person.person_id not in seen:
                    seen.add(person.person_id)
                    info[(person.person_id, 1)] = (
                        float(person.place.lat),
                        float(person.place.lon),
                        "",
                        person.relation.value,
                        None,
                    )
    return info
