"""Scenario files: parsing with named errors, and each change applied alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import haversine_km
from matcher.scenario import (
    BASELINE,
    AddFamilies,
    Change,
    CloseInstitution,
    Cohort,
    PauseOptions,
    RemoveOptions,
    Scenario,
    ScenarioError,
    Selector,
    SetPlaces,
    apply_changes,
    parse_scenarios,
)
from matcher.simulate import SimulationParams
from models.dataset import Dataset
from models.enums import FosterLevel

AS_OF = date(2026, 11, 1)
FILE = Path("/plans/north.toml")


def parse(data: dict) -> list[Scenario]:
    return list(parse_scenarios({"base": "data", **data}, FILE).scenarios)


def errors(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenarios({"base": "data", **data}, FILE)
    return caught.value.issues


def one(*changes: Change) -> Scenario:
    return Scenario("s", changes=changes)


# --------------------------------------------------------------------------- parsing


def test_baseline_is_added_first_and_base_is_relative_to_the_file() -> None:
    spec = parse_scenarios(
        {"base": "data", "seed": 4, "scenario": [{"name": "a"}, {"name": "b"}]}, FILE
    )
    assert spec.names == [BASELINE, "a", "b"]
    assert spec.base == Path("/plans/data")
    assert spec.scenarios[0].changes == ()


def test_a_named_baseline_is_kept_and_moved_first() -> None:
    names = [s.name for s in parse({"scenario": [{"name": "a"}, {"name": BASELINE}]})]
    assert names == [BASELINE, "a"]


def test_simulate_table_sets_the_year_simulation_with_the_file_seed() -> None:
    spec = parse_scenarios({"base": "d", "seed": 9, "simulate": {"months": 6, "accept": 0.0}}, FILE)
    assert spec.simulation == SimulationParams(months=6, seed=9, accept=0.0)
    assert parse_scenarios({"base": "d"}, FILE).simulation is None


def test_scenario_settings_inherit_the_file_defaults() -> None:
    (_, s) = parse(
        {
            "solver": "cpsat",
            "time_limit": 5,
            "cohort": {"kommuner": ["101"]},
            "scenario": [{"name": "a", "time_limit": 2}],
        }
    )
    assert (s.solver, s.time_limit, s.cohort.kommuner) == ("cpsat", 2.0, ("101",))


def test_every_change_type_parses() -> None:
    (_, s) = parse(
        {
            "scenario": [
                {
                    "name": "all",
                    "policy": {"limits_km": {"foster": 40}},
                    "change": [
                        {
                            "type": "add_families",
                            "count": 3,
                            "level": "forstaerket",
                            "places": {"1": 0.25, "2": 0.75},
                            "kommuner": ["860"],
                        },
                        {"type": "remove", "kind": "opholdssted", "kommuner": ["101"]},
                        {"type": "pause", "ids": ["f1"]},
                        {"type": "set_places", "levels": ["almen"], "delta": 1},
                        {"type": "close_institution", "ids": ["i1"]},
                    ],
                }
            ]
        }
    )
    add, remove, pause, set_places, close = s.changes
    assert add == AddFamilies(3, FosterLevel.FORSTAERKET, ((1, 0.25), (2, 0.75)), ("860",))
    assert remove == RemoveOptions(Selector(kind="opholdssted", kommuner=("101",)))
    assert pause == PauseOptions(Selector(ids=("f1",)))
    assert set_places == SetPlaces(Selector(levels=(1,)), delta=1)
    assert close == CloseInstitution(("i1",))
    assert s.policy_overrides == {"limits_km": {"foster": 40}}


def test_errors_name_the_scenario_the_change_and_the_field() -> None:
    issues = errors(
        {
            "scenario": [
                {
                    "name": "north",
                    "change": [
                        {"type": "add_families", "count": 2, "level": "gold"},
                        {"type": "add_families", "level": 2, "places": {"1": 0.5}},
                    ],
                },
                {"name": "south", "change": [{"type": "demolish"}]},
            ]
        }
    )
    assert any(
        "scenario 'north', change 1 (add_families), field 'level': got 'gold'" in i
        and "forstaerket" in i
        for i in issues
    )
    assert any("change 2 (add_families), field 'places'" in i and "sum to 1" in i for i in issues)
    assert any("scenario 'south', change 1, field 'type': got 'demolish'" in i for i in issues)
    assert all(i.startswith(str(FILE)) for i in issues)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"scenario": [{"name": "a", "colour": "red"}]}, "unknown field 'colour'"),
        ({"scenario": [{"name": "a"}, {"name": "a"}]}, "a name not used before"),
        ({"scenario": [{"name": "x/y"}]}, "names a file of the report"),
        ({"scenario": [{"name": BASELINE, "policy": {"limits_km": {"foster": 1}}}]}, "baseline"),
        ({"solver": "magic"}, "field 'solver': got 'magic'; allowed: auto, flow, cpsat, greedy"),
        ({"as_of": "tomorrow"}, "field 'as_of'"),
        ({"cohort": {"kommuner": ["12"]}}, "3-digit kommune codes"),
        ({"cohort": {"min_age": 12, "max_age": 6}}, "at most max_age"),
        (
            {"scenario": [{"name": "a", "change": [{"type": "remove"}]}]},
            "name the options with ids, kind, kommuner or levels",
        ),
        (
            {"scenario": [{"name": "a", "change": [{"type": "set_places", "ids": ["f1"]}]}]},
            "give places, delta or combination_places",
        ),
        ({"simulate": {"months": 0}}, "[simulate], field 'months': got 0"),
        ({"simulate": {"accept": 1.5}}, "field 'accept': got 1.5; allowed: a number from 0 to 1"),
        ({"simulate": {"years": 2}}, "[simulate]: unknown field 'years'"),
        ({"simulate": 12}, "[simulate]: got 12; allowed: a table"),
    ],
)
def test_invalid_files_are_refused_with_the_place_named(data: dict, expected: str) -> None:
    assert any(expected in issue for issue in errors(data)), errors(data)


# --------------------------------------------------------------------------- applying


def test_changes_never_touch_the_base(small_dataset: Dataset) -> None:
    before = (small_dataset.families, small_dataset.institutions)
    apply_changes(small_dataset, one(RemoveOptions(Selector(kind="foster"))), 1, AS_OF)
    assert (small_dataset.families, small_dataset.institutions) == before


def test_add_families_near_existing_homes_of_the_kommuner(small_dataset: Dataset) -> None:
    code = small_dataset.families[0].kommune_code
    change = AddFamilies(12, FosterLevel.SPECIALISERET, ((1, 0.5), (3, 0.5)), (code,))
    after = apply_changes(small_dataset, one(change), 1, AS_OF)
    new = after.families[len(small_dataset.families) :]
    assert len(new) == 12
    assert {f.level for f in new} == {FosterLevel.SPECIALISERET}
    assert {f.kommune_code for f in new} == {code}
    assert {f.places for f in new} <= {1, 3} and all(f.occupied == 0 for f in new)
    assert all(f.vacancy_confirmed == AS_OF for f in new)
    homes = [f.place for f in small_dataset.families if f.kommune_code == code]
    lat = np.array([p.lat for p in homes])
    lon = np.array([p.lon for p in homes])
    for f in new:  # 3 km spread: every new home lies near some existing home
        assert haversine_km(f.place.lat, f.place.lon, lat, lon).min() < 20
    assert len(after.option_ids()) == len(small_dataset.option_ids()) + 12


def test_add_families_is_seeded(small_dataset: Dataset) -> None:
    change = AddFamilies(5, FosterLevel.ALMEN, ((2, 1.0),))
    a = apply_changes(small_dataset, one(change), 7, AS_OF)
    b = apply_changes(small_dataset, one(change), 7, AS_OF)
    c = apply_changes(small_dataset, one(change), 8, AS_OF)
    assert a.families == b.families
    assert a.families != c.families


def test_remove_by_filter_and_by_id(small_dataset: Dataset) -> None:
    specialised = [f for f in small_dataset.families if f.level == FosterLevel.SPECIALISERET]
    after = apply_changes(small_dataset, one(RemoveOptions(Selector(levels=(3,)))), 1, AS_OF)
    assert len(after.families) == len(small_dataset.families) - len(specialised)
    assert after.institutions == small_dataset.institutions
    target = small_dataset.institutions[0].institution_id
    after = apply_changes(small_dataset, one(RemoveOptions(Selector(ids=(target,)))), 1, AS_OF)
    assert target not in {i.institution_id for i in after.institutions}
    assert all(e.option_id != target for e in after.exclusions)


def test_pause_stops_intake_but_keeps_the_children_placed(small_dataset: Dataset) -> None:
    fam = small_dataset.families[0]
    inst = small_dataset.institutions[0]
    change = PauseOptions(Selector(ids=(fam.family_id, inst.institution_id)))
    after = apply_changes(small_dataset, one(change), 1, AS_OF)
    assert after.families[0].paused and after.families[0].occupied == fam.occupied
    assert after.institutions[0].free_places == 0
    assert after.institutions[0].occupied == inst.occupied


def test_set_places_absolute_and_delta(small_dataset: Dataset) -> None:
    fam = small_dataset.families[0]
    up = apply_changes(
        small_dataset, one(SetPlaces(Selector(ids=(fam.family_id,)), delta=2)), 1, AS_OF
    )
    assert up.families[0].places == fam.places + 2
    down = apply_changes(
        small_dataset, one(SetPlaces(Selector(ids=(fam.family_id,)), places=0)), 1, AS_OF
    )
    assert (down.families[0].places, down.families[0].occupied) == (0, 0)


def test_close_institution_removes_its_places(small_dataset: Dataset) -> None:
    target = small_dataset.institutions[1].institution_id
    after = apply_changes(small_dataset, one(CloseInstitution((target,))), 1, AS_OF)
    assert target not in {i.institution_id for i in after.institutions}
    assert len(after.institutions) == len(small_dataset.institutions) - 1


def test_unknown_ids_are_named(small_dataset: Dataset) -> None:
    scenario = Scenario(
        "odd",
        changes=(CloseInstitution(("nope",)), PauseOptions(Selector(ids=("ghost",)))),
        cohort=Cohort(children=("c-missing",)),
    )
    with pytest.raises(ScenarioError) as caught:
        apply_changes(small_dataset, scenario, 1, AS_OF)
    text = str(caught.value)
    assert "change 1 (close_institution), field 'ids': got 'nope'" in text
    assert "change 2, field 'ids': got 'ghost'" in text
    assert "field 'children': got 'c-missing'" in text


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(1, 30),
    level=st.sampled_from(list(FosterLevel)),
    places=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_added_capacity_is_exactly_what_was_asked(
    small_dataset: Dataset, count: int, level: FosterLevel, places: int, seed: int
) -> None:
    change = AddFamilies(count, level, ((places, 1.0),))
    after = apply_changes(small_dataset, one(change), seed, AS_OF)
    free = sum(f.free_places for f in after.families if not f.paused)
    free_before = sum(f.free_places for f in small_dataset.families if not f.paused)
    assert free == free_before + count * places
    ids = [f.family_id for f in after.families]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {p.person_id for p in after.network}


def test_cohort_admits_by_every_criterion() -> None:
    from models.domain import Child, Place

    child = Child("c1", "101", 9, 2, Place(55.7, 12.5))
    assert Cohort().admits(child)
    assert Cohort(kommuner=("101",), min_age=6, max_age=12, support_levels=(2,)).admits(child)
    assert not Cohort(kommuner=("147",)).admits(child)
    assert not Cohort(min_age=10).admits(child)
    assert not Cohort(support_levels=(3, 4)).admits(child)
    assert not Cohort(children=("c2",)).admits(child)
