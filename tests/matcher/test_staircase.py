"""The staircase is law, nærhed is score: distance orders options within a tier and never makes
a less intrusive tier disappear while a more intrusive one farther from home stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.distance import haversine_km
from matcher.policy import list_policies, load_policy
from matcher.rank import Matcher, Ranking
from models.domain import Place, Placement
from models.enums import FosterLevel, InstitutionKind, Kind
from tests.factories import AS_OF, at, child, dataset, family, institution

HJOERRING = "860"


def _hjoerring_case(policy_name: str | None) -> Ranking:
    ds = dataset(
        children=[child(kommune_code=HJOERRING, school=None)],
        families=[family("f070", place=at(70)), family("f100", place=at(100))],
        institutions=[
            institution("i150", place=at(150), kommune_code=HJOERRING),
            institution("i190", place=at(190), kommune_code=HJOERRING),
        ],
    )
    matcher = Matcher(ds) if policy_name is None else Matcher(ds, load_policy(policy_name))
    return matcher.rank("c1", top=None, as_of=AS_OF)


def test_hjoerring_families_at_70_and_100_km_come_before_institutions_at_150_and_190() -> None:
    for name in (None, "default"):  # the child's kommune's profile (Hjørring), then default
        ranking = _hjoerring_case(name)
        assert [p.option_id for p in ranking.proposals] == ["f070", "f100", "i150", "i190"]
        warned = {p.option_id for p in ranking.proposals if "OUTSIDE_LOCAL_AREA" in p.warnings}
        assert "f100" in warned  # beyond Hjørring's 60 km and default's 80 km
        assert ("f070" in warned) is (name is None)  # beyond 60, within 80
        assert not warned & {"i150", "i190"}  # within the institutions' 200 km
        assert ranking.excluded.get("TOO_FAR", 0) == 0


def test_beyond_local_km_scores_the_km_beyond_the_radius() -> None:
    ranking = _hjoerring_case(None)
    terms = {p.option_id: p.terms for p in ranking.proposals}
    radius = load_policy("hjoerring").local_km[next(iter(load_policy("hjoerring").local_km))]
    assert radius > 0
    assert terms["f070"]["beyond_local_km"] > 0
    assert terms["f100"]["beyond_local_km"] > terms["f070"]["beyond_local_km"]
    assert terms["i150"].get("beyond_local_km", 0.0) == 0.0


profiles = st.sampled_from([p.stem for p in list_policies()])
distances = st.lists(st.floats(1.0, 420.0), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=profiles,
    family_km=distances,
    institution_km=distances,
    local_foster=st.floats(5.0, 150.0),
    max_km=st.floats(50.0, 400.0),
    east=st.floats(-60.0, 60.0),
)
def test_distance_never_excludes_a_less_intrusive_tier_while_a_farther_one_stays(
    profile: str,
    family_km: list[float],
    institution_km: list[float],
    local_foster: float,
    max_km: float,
    east: float,
) -> None:
    base = load_policy(profile)
    foster = next(k for k in base.local_km if k.value == "foster")
    policy = replace(base, local_km={**base.local_km, foster: local_foster}, max_km=max_km)
    ds = dataset(
        children=[child(school=None, support_level=2)],
        families=[
            family(f"f{i}", place=at(km, east), level=FosterLevel.SPECIALISERET)
            for i, km in enumerate(family_km)
        ],
        institutions=[
            institution(f"i{i}", place=at(km, -east), kind=InstitutionKind.DOEGNINSTITUTION)
            for i, km in enumerate(institution_km)
        ],
    )
    home = ds.children[0].home

    def km_of(place: Place) -> float:
        return float(
            haversine_km(home.lat, home.lon, np.array([place.lat]), np.array([place.lon]))[0]
        )

    ranking = Matcher(ds, policy).rank("c1", top=None, why_not=True, as_of=AS_OF)
    eligible = {p.option_id for p in ranking.proposals}
    too_far = {
        row["option_id"] for row in ranking.excluded_options or [] if "TOO_FAR" in row["reasons"]
    }
    family_km_of = {f.family_id: km_of(f.place) for f in ds.families}
    institution_km_of = {i.institution_id: km_of(i.place) for i in ds.institutions}
    for fid in too_far & set(family_km_of):
        farther = [i for i, k in institution_km_of.items() if k >= family_km_of[fid]]
        assert not set(farther) & eligible, (fid, farther)
    # every eligible family ranks before every eligible institution, whatever the distances
    tiers = [p.tier for p in ranking.proposals]
    assert tiers == sorted(tiers)
    # beyond the radius is a warning, never an exclusion (0.5 km either side of the radius is
    # left out: the factories' flat-earth offsets are not exact great-circle km)
    for p in ranking.proposals:
        km = family_km_of.get(p.option_id)
        if p.kind == "foster" and km is not None and abs(km - local_foster) > 0.5:
            assert ("OUTSIDE_LOCAL_AREA" in p.warnings) is (km > local_foster)


def _with_placed_sibling(sibling_home_km: float, other_km: list[float], places: int = 2) -> Matcher:
    placed = child("c1", sibling_group="g1", age=12)
    waiting = child("c2", sibling_group="g1", age=9)
    ds = dataset(
        children=[placed, waiting],
        families=[
            family("fs", place=at(sibling_home_km), places=places, occupied=1, max_siblings=2),
            *(family(f"f{i}", place=at(km)) for i, km in enumerate(other_km)),
        ],
        institutions=[institution("i1", place=at(1))],
        placements=[Placement("c1", "fs", Kind.FOSTER, date(2025, 1, 1))],
    )
    return Matcher(ds)


def test_a_child_is_offered_the_home_where_its_sibling_lives_first_within_the_tier() -> None:
    ranking = _with_placed_sibling(60.0, [2.0, 5.0]).rank("c2", top=None, as_of=AS_OF)
    assert ranking.children == ("c2",)  # the placed sibling is not placed again
    fosters = [p for p in ranking.proposals if p.kind == "foster"]
    assert fosters[0].option_id == "fs"
    assert fosters[0].terms["joins_sibling"] < 0
    assert all("joins_sibling" not in p.terms or p.terms["joins_sibling"] == 0 for p in fosters[1:])
    # the staircase still holds: the sibling's home is first among families, not above network
    assert [p.tier for p in ranking.proposals] == sorted(p.tier for p in ranking.proposals)


def test_the_siblings_home_without_room_is_not_offered() -> None:
    ranking = _with_placed_sibling(60.0, [2.0], places=1).rank("c2", top=None, as_of=AS_OF)
    assert "fs" not in {p.option_id for p in ranking.proposals}


@settings(max_examples=40, deadline=None)
@given(
    sibling_home_km=st.floats(0.5, 250.0),
    other_km=st.lists(st.floats(0.5, 250.0), min_size=0, max_size=6),
)
def test_joining_a_placed_sibling_ranks_first_among_families_wherever_it_is(
    sibling_home_km: float, other_km: list[float]
) -> None:
    ranking = _with_placed_sibling(sibling_home_km, other_km).rank("c2", top=None, as_of=AS_OF)
    fosters = [p.option_id for p in ranking.proposals if p.kind == "foster"]
    assert fosters[0] == "fs"


def test_the_unit_of_a_partly_placed_group_is_the_same_built_alone_or_with_all() -> None:
    lazy, full = _with_placed_sibling(60.0, [2.0]), _with_placed_sibling(60.0, [2.0])
    alone = lazy.unit_for("c2")
    assert alone == full.unit_of_child["c2"]
    assert alone.sibling_homes == frozenset({("fs", 2)})
    assert lazy.unit_for("c1") == full.unit_of_child["c1"]
