"""The year simulation: deterministic by seed; children and places conserved every month."""

from __future__ import annotations

from datetime import date

import pytest

from matcher.policy import load_policy_set
from matcher.simulate import SimulationParams, simulate
from models.dataset import Dataset
from models.domain import Placement
from models.enums import Kind, PlacementStatus
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import dataset, institution

START = date(2026, 11, 1)


@pytest.fixture(scope="module")
def placed(schools) -> Dataset:
    return generate_dataset(
        SyntheticSpec(children=40, families=60, institutions=10, seed=8, placements=True), schools
    )


@pytest.fixture(scope="module")
def year(placed: Dataset) -> dict:
    return simulate(placed, load_policy_set(), START, SimulationParams(months=4, seed=3)).as_dict()


def test_same_seed_same_year_other_seed_other_year(placed: Dataset, year: dict) -> None:
    again = simulate(placed, load_policy_set(), START, SimulationParams(months=4, seed=3))
    assert again.as_dict() == year
    assert list(year) == ["start", "params", "policy", "months"]
    assert again.months[0].day == START and year["months"][0]["date"] == START.isoformat()
    other = simulate(placed, load_policy_set(), START, SimulationParams(months=4, seed=4))
    assert other.months != again.months


def test_every_child_is_accounted_for_every_month(year: dict) -> None:
    for month in year["months"]:
        assert month["children_accounted"] == month["children_total"], month


def test_places_are_conserved_every_month(placed: Dataset, year: dict) -> None:
    from matcher.simulate import _base_occupants, _with_occupancy

    assert all(m["over_capacity"] == 0 for m in year["months"])
    active = sum(year["months"][-1]["active_by_kind"].values())
    places = (
        sum(f.places for f in placed.families)
        + sum(i.places + i.combination_places for i in placed.institutions)
        + sum(p.places for p in placed.network)
    )
    assert active <= places
    base = _base_occupants(placed)
    assert all(v == 0 for v in base.values())  # the file records every occupant
    ds = _with_occupancy(
        placed, list(placed.families), list(placed.institutions), list(placed.placements), base
    )
    assert [f.occupied for f in ds.families] == [f.occupied for f in placed.families]


def test_step_downs_lower_the_institution_count(placed: Dataset) -> None:
    eager = simulate(
        placed, load_policy_set(), START, SimulationParams(months=3, seed=1, accept=1.0, end=0.0)
    )
    never = simulate(
        placed, load_policy_set(), START, SimulationParams(months=3, seed=1, accept=0.0, end=0.0)
    )
    assert sum(m.stepped_down for m in never.months) == 0
    assert sum(m.stepped_down for m in eager.months) > 0
    last = eager.months[-1].active_by_kind["institution"]
    assert last <= never.months[-1].active_by_kind["institution"]


@pytest.mark.parametrize(("end_reason", "share"), [("home", 1.0), ("breakdown", 0.0)])
def test_an_institution_placement_ended_with_the_child_going_home_counts_as_stepped_down(
    end_reason: str, share: float
) -> None:
    record = Placement(
        "c1",
        "i1",
        Kind.INSTITUTION,
        date(2026, 1, 5),
        status=PlacementStatus.ENDED,
        end_date=date(2026, 5, 1),
        end_reason=end_reason,
    )
    ds = dataset(institutions=[institution()], placements=[record])
    result = simulate(ds, load_policy_set(), START, SimulationParams(months=1, seed=1, end=0.0))
    assert result.months[-1].institution_stepped_down_share == share
