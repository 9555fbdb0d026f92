"""An independent feasibility checker for batch results. It shares no code with the solver:
it reads the dataset's records and the result's JSON, and checks eligibility with the naive
row-by-row ranking (geopy's great-circle distance)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from geopy.distance import great_circle

from matcher.policy import Policy, PolicySet
from models.dataset import Dataset
from tests.oracles.naive_rank import naive_rank

TIER = {"network": 1, "foster": 2, "combination": 3, "institution": 4}


def _gc(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(great_circle(a, b).km)


def check_batch(
    ds: Dataset,
    policy: Policy | PolicySet,
    result: dict[str, Any],
    cohort: set[str],
    as_of: date,
    groups_together: bool = True,
) -> None:
    assigned = {a["child_id"]: a for a in result["assignments"]}
    unassigned = {u["child_id"] for u in result["unassigned"]}
    assert len(assigned) == len(result["assignments"]), "a child assigned twice"
    assert not set(assigned) & unassigned, "a child both assigned and unassigned"
    assert set(assigned) | unassigned == cohort, "the cohort is not accounted for"
    # Capacity per home.
    family = Counter(
        a["option_id"]
        for a in assigned.values()
        if a["kind"] in ("foster", "combination") and a["option_id"].startswith("f")
    )
    for f in ds.families:
        assert family[f.family_id] <= f.places - f.occupied, f"family {f.family_id} overfull"
    residential = Counter(a["option_id"] for a in assigned.values() if a["kind"] == "institution")
    part_time = Counter(
        a["option_id"]
        for a in assigned.values()
        if a["kind"] == "combination" and a["option_id"].startswith("i")
    )
    for i in ds.institutions:
        assert residential[i.institution_id] <= i.places - i.occupied
        assert part_time[i.institution_id] <= i.combination_places - i.combination_occupied
    network = Counter(a["option_id"] for a in assigned.values() if a["kind"] == "network")
    places = {p.person_id: p.places for p in ds.network}
    for pid, n in network.items():
        assert n <= places[pid], f"network person {pid} over capacity"
    # Sibling groups together (one home, one kind) or all unassigned.
    if groups_together:
        for members in ds.sibling_groups.values():
            if not set(members) & cohort:
                continue
            homes = {
                (assigned[c]["option_id"], assigned[c]["kind"]) if c in assigned else None
                for c in members
            }
            assert len(homes) == 1, f"sibling group split: {members} -> {homes}"
    # Exclusions and eligibility, with each child's group as a unit.
    excluded = {(e.child_id, e.option_id) for e in ds.exclusions}
    for cid, a in assigned.items():
        assert (cid, a["option_id"]) not in excluded
        eligible = (
            naive_rank(ds, policy, cid, as_of, top=None, km=_gc)
            if groups_together
            else naive_rank(_alone(ds, cid), policy, cid, as_of, top=None, km=_gc)
        )
        keys = {(p.option_id, p.tier) for p in eligible.proposals}
        assert (a["option_id"], TIER[a["kind"]]) in keys, f"{cid} -> {a} is not eligible"


def _alone(ds: Dataset, child_id: str) -> Dataset:
    from dataclasses import replace

    kids = tuple(
        replace(c, sibling_group=None) if c.child_id == child_id else c for c in ds.children
    )
    return replace(ds, children=kids)
