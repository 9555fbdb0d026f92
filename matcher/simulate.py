"""A year, month by month, for planners: arrivals, matching, step-downs, endings, capacity.

Each month: children arrive (the dataset's waiting children in month 1, then clones of them
at `arrivals` a month); the batch matcher places the waiting children; reviews propose
step-downs, each accepted with probability `accept`; placements end (the child goes home)
with probability `end` a month; a few empty families pause or come back. Everything random
goes through one seeded generator, and the matcher runs on a deterministic time budget, so
the same dataset, parameters and seed give the same year.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from matcher.cohort import run_match
from matcher.policy import PolicySet
from matcher.rank import Matcher
from matcher.review import add_months, review_placement
from models.capacity import pool_id
from models.dataset import Dataset, combination_pool, occupancy_by_pool
from models.domain import Child, Family, Institution, NetworkPerson, Placement
from models.enums import Kind, PlacementStatus

__all__ = ["MonthRow", "SimulationParams", "SimulationResult", "simulate"]

_KIND_OF = {k.value: k for k in Kind}


@dataclass(frozen=True)
class SimulationParams:
    months: int = 12
    seed: int = 0
    arrivals: int | None = None  # children a month after the first; None: backlog / 12
    accept: float = 0.5  # probability a step-down proposal is accepted
    end: float = 0.02  # monthly probability a placement ends with the child going home
    capacity_change: float = 0.01  # monthly probability an empty family pauses or resumes
    time_limit: float = 10.0  # deterministic seconds for each month's match


@dataclass(frozen=True)
class MonthRow:
    """One month of the simulated year."""

    month: int
    day: date  # the month's first day ("date")
    arrived: int
    placed: dict[str, int]  # new placements by kind
    stepped_down: int
    went_home: int
    active_by_kind: dict[str, int]
    waiting: int
    follow_ups_due: int
    institution_stepped_down_share: float | None
    solver_status: str
    over_capacity: int  # options holding more children than places: always 0
    children_accounted: int
    children_total: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "date": self.day.isoformat(),
            "arrived": self.arrived,
            "placed": self.placed,
            "stepped_down": self.stepped_down,
            "went_home": self.went_home,
            "active_by_kind": self.active_by_kind,
            "waiting": self.waiting,
            "follow_ups_due": self.follow_ups_due,
            "institution_stepped_down_share": self.institution_stepped_down_share,
            "solver_status": self.solver_status,
            "over_capacity": self.over_capacity,
            "children_accounted": self.children_accounted,
            "children_total": self.children_total,
        }


@dataclass(frozen=True)
class SimulationResult:
    """The simulated year: the parameters (arrivals resolved), the policy and the months."""

    start: date
    params: SimulationParams
    policy: str
    months: list[MonthRow]

    def as_dict(self) -> dict[str, Any]:
        p = self.params
        return {
            "start": self.start.isoformat(),
            "params": {
                "months": p.months,
                "seed": p.seed,
                "arrivals": p.arrivals,
                "accept": p.accept,
                "end": p.end,
                "capacity_change": p.capacity_change,
            },
            "policy": self.policy,
            "months": [m.as_dict() for m in self.months],
        }


def _with_occupancy(
    ds: Dataset,
    families: list[Family],
    institutions: list[Institution],
    placements: list[Placement],
    base: dict[str, int],
) -> Dataset:
    """The dataset with every option's occupied places = its active placements (plus the
    occupants the base dataset had without a placement record, who stay all year)."""
    counts = occupancy_by_pool(placements, {i.institution_id for i in institutions})
    for pool, n in base.items():
        counts[pool] = counts.get(pool, 0) + n
    fams = tuple(replace(f, occupied=counts.get(f.family_id, 0)) for f in families)
    insts = tuple(
        replace(
            i,
            occupied=counts.get(i.institution_id, 0),
            combination_occupied=counts.get(combination_pool(i.institution_id), 0),
        )
        for i in institutions
    )
    return replace(ds, families=fams, institutions=insts, placements=tuple(placements))


def _base_occupants(ds: Dataset) -> dict[str, int]:
    """Occupied places per pool that no active placement of the dataset accounts for."""
    recorded = occupancy_by_pool(ds.placements, {i.institution_id for i in ds.institutions})
    held = {f.family_id: f.occupied for f in ds.families}
    for i in ds.institutions:
        held[i.institution_id] = i.occupied
        held[combination_pool(i.institution_id)] = i.combination_occupied
    return {pool: n - recorded.get(pool, 0) for pool, n in held.items()}


def _clone(
    child: Child, network: tuple[NetworkPerson, ...], new_id: str
) -> tuple[Child, list[NetworkPerson]]:
    persons = [replace(p, person_id=f"{new_id}-{p.person_id}", child_id=new_id) for p in network]
    renamed = {p.person_id: f"{new_id}-{p.person_id}" for p in network}
    persons = [replace(p, via=renamed.get(p.via) if p.via else None) for p in persons]
    wishes = tuple(renamed[w] for w in child.wishes if w in renamed)
    return replace(child, child_id=new_id, sibling_group=None, wishes=wishes), persons


def simulate(
    dataset: Dataset, policies: PolicySet, start: date, params: SimulationParams
) -> SimulationResult:
    rng = np.random.default_rng(params.seed)
    base = _base_occupants(dataset)
    children = list(dataset.children)
    network = list(dataset.network)
    families = list(dataset.families)
    institutions = list(dataset.institutions)
    placements = list(dataset.placements)
    ever_placed = {p.child_id for p in placements}
    backlog = [c for c in dataset.children if c.child_id not in ever_placed]
    waiting = {c.child_id for c in backlog}
    arrivals = params.arrivals if params.arrivals is not None else max(len(backlog) // 12, 1)
    templates = [c for c in backlog if c.sibling_group is None] or [
        c for c in dataset.children if c.sibling_group is None
    ]
    went_home: set[str] = ever_placed - set(dataset.active_placement)
    # institution placement (child, start) -> date it was stepped down, for the KPI
    stepped: dict[tuple[str, date], date] = {
        (p.child_id, p.start_date): p.end_date
        for p in placements
        if p.kind is Kind.INSTITUTION
        and not p.active
        and p.end_date is not None
        and p.end_reason.strip().lower() in STEPPED_DOWN_REASONS
    }
    months: list[MonthRow] = []
    for m in range(1, params.months + 1):
        day = add_months(start, m - 1)
        arrived = 0
        if m > 1 and templates:
            for k in range(arrivals):
                t = templates[int(rng.integers(len(templates)))]
                cid = f"sim{m:02d}-{k + 1:04d}"
                clone, persons = _clone(t, dataset.network_by_child.get(t.child_id, ()), cid)
                children.append(clone)
                network.extend(persons)
                waiting.add(cid)
                arrived += 1
        # capacity: an empty family pauses, a paused one resumes
        active_at = {p.option_id for p in placements if p.active}
        for n, f in enumerate(families):
            if f.family_id not in active_at and rng.random() < params.capacity_change:
                families[n] = replace(f, paused=not f.paused)
        ds = _with_occupancy(
            replace(dataset, children=tuple(children), network=tuple(network)),
            families,
            institutions,
            placements,
            base,
        )
        matcher = Matcher(ds, policies)
        units = [u for u in matcher.units if any(c in waiting for c in u.child_ids)]
        result = run_match(
            matcher, units=units, as_of=day, time_limit=params.time_limit, deterministic=True
        )
        new_by_kind = dict.fromkeys((k.value for k in Kind), 0)
        for a in result.assignments:
            placements.append(Placement(a["child_id"], a["option_id"], _KIND_OF[a["kind"]], day))
            waiting.discard(a["child_id"])
            new_by_kind[a["kind"]] += 1
        # reviews and step-downs, on the matcher of this month with this month's placements
        ds = _with_occupancy(ds, families, institutions, placements, base)
        matcher = Matcher(ds, policies)
        institution_ids = {i.institution_id for i in institutions}
        free = dict(zip(matcher.pools.pool_id, matcher.pools.free.tolist(), strict=True))
        stepped_now = 0
        follow_ups_due = 0
        month_end = add_months(start, m)
        for idx, p in enumerate(list(placements)):
            if not p.active:
                continue
            r = review_placement(matcher, p, day, top=5)
            if r.follow_up.next < month_end:
                follow_ups_due += 1  # a follow-up falls due this month
            proposals = r.step_down.proposals
            if not proposals or rng.random() >= params.accept:
                continue
            for prop in proposals:
                pool = pool_id(str(prop["option_id"]), prop["kind"], institution_ids)
                if free.get(pool, 0) > 0:
                    free[pool] -= 1
                    placements[idx] = replace(
                        p, status=PlacementStatus.ENDED, end_date=day, end_reason="step_down"
                    )
                    placements.append(
                        Placement(p.child_id, prop["option_id"], _KIND_OF[prop["kind"]], day)
                    )
                    if p.kind is Kind.INSTITUTION:
                        stepped[(p.child_id, p.start_date)] = day
                    stepped_now += 1
                    break
        ended = 0
        for idx, p in enumerate(list(placements)):
            if p.active and p.start_date < day and rng.random() < params.end:
                placements[idx] = replace(
                    p, status=PlacementStatus.ENDED, end_date=day, end_reason="home"
                )
                went_home.add(p.child_id)
                if p.kind is Kind.INSTITUTION:  # home is the least intrusive step of all
                    stepped[(p.child_id, p.start_date)] = day
                ended += 1
        active = [p for p in placements if p.active]
        end_ds = _with_occupancy(ds, families, institutions, placements, base)
        over = sum(f.occupied > f.places for f in end_ds.families) + sum(
            i.occupied > i.places or i.combination_occupied > i.combination_places
            for i in end_ds.institutions
        )
        carers: dict[str, int] = {}
        for p in active:
            if p.kind is Kind.NETWORK:
                carers[p.option_id] = carers.get(p.option_id, 0) + 1
        seats = {n.person_id: n.places for n in network}
        over += sum(n > seats.get(pid, 0) for pid, n in carers.items())
        by_kind = dict.fromkeys((k.value for k in Kind), 0)
        for p in active:
            by_kind[p.kind.value] += 1
        months.append(
            MonthRow(
                month=m,
                day=day,
                arrived=arrived if m > 1 else len(backlog),
                placed=new_by_kind,
                stepped_down=stepped_now,
                went_home=ended,
                active_by_kind=by_kind,
                waiting=len(waiting),
                follow_ups_due=follow_ups_due,
                institution_stepped_down_share=_stepped_share(
                    placements, stepped, policies, ds, month_end
                ),
                solver_status=result.solution.status,
                over_capacity=over,
                children_accounted=len(waiting)
                + len({p.child_id for p in active})
                + len(went_home - {p.child_id for p in active}),
                children_total=len(children),
            )
        )
    return SimulationResult(start, replace(params, arrivals=arrivals), policies.name, months)


# End reasons of records that count as stepped down (a kommune's files write them freely).
STEPPED_DOWN_REASONS = frozenset({"home", "step_down", "hjemgivelse", "hjemgivet", "trin ned"})


def _stepped_share(
    placements: list[Placement],
    stepped: dict[tuple[str, date], date],
    policies: PolicySet,
    ds: Dataset,
    until: date,
) -> float | None:
    """Of institution placements old enough to judge (started `within_months` before `until`),
    the share stepped down to a less intrusive placement, or ended with the child going home,
    within those months."""
    judged = 0
    done = 0
    for p in placements:
        if p.kind is not Kind.INSTITUTION:
            continue
        child = ds.child_by_id.get(p.child_id)
        within = policies.for_kommune(child.kommune_code if child else "").step_down_within_months
        deadline = add_months(p.start_date, within)
        if deadline > until:
            continue
        judged += 1
        when = stepped.get((p.child_id, p.start_date))
        done += when is not None and when <= deadline
    return round(done / judged, 4) if judged else None
