"""The geodata tables, the offline geocoder, distances and spatial pruning."""

from __future__ import annotations

import numpy as np
import pytest
from geopy.distance import geodesic
from geopy.geocoders.base import Geocoder
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import OfflineGeocoder, SpatialIndex, ellipsoid_km, haversine_km
from geo.gazetteer import Gazetteer, GeodataError, default_gazetteer
from models.dataset import inside_denmark


def test_98_kommuner(gazetteer: Gazetteer) -> None:
    assert len(gazetteer.kommuner) == 98
    assert gazetteer.kommuner["kommune_code"].is_unique
    for code in ("860", "727", "167", "707"):
        assert gazetteer.has_kommune(code)
    assert not gazetteer.has_kommune("999")


@pytest.mark.parametrize("table", ["postcodes", "schools"])
def test_every_point_inside_denmark(gazetteer: Gazetteer, table: str) -> None:
    t = getattr(gazetteer, table)
    assert len(t.lat) > 1000
    assert all(inside_denmark(a, b) for a, b in zip(t.lat, t.lon, strict=True))


def test_geocoder_is_a_geopy_geocoder_and_offline(gazetteer: Gazetteer) -> None:
    coder = OfflineGeocoder(gazetteer)
    assert isinstance(coder, Geocoder)
    odder = coder.geocode("8300")
    assert odder is not None and "Odder" in odder.address
    assert odder.latitude == pytest.approx(55.9626)
    assert coder.geocode("0000") is None
    school = coder.geocode("school:101001")
    assert school is not None and "Legatskole" in school.address
    back = coder.reverse((odder.latitude, odder.longitude))
    assert back is not None and back.raw["postcode"] == "8300"


def test_missing_geodata_directory_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PLACEMENT_GEODATA_DIR", raising=False)
    with pytest.raises(GeodataError, match="PLACEMENT_GEODATA_DIR"):
        default_gazetteer()
    with pytest.raises(GeodataError, match=r"dk_postcodes\.csv is missing"):
        Gazetteer.from_directory(tmp_path)


dk_points = st.tuples(st.floats(54.6, 57.7), st.floats(8.1, 15.1))


@settings(max_examples=200, deadline=None)
@given(dk_points, dk_points)
def test_haversine_within_half_percent_of_geodesic_in_denmark(a, b) -> None:
    exact = geodesic(a, b).km
    fast = float(haversine_km(a[0], a[1], np.array([b[0]]), np.array([b[1]]))[0])
    assert abs(fast - exact) <= max(0.005 * exact, 1e-6)


@settings(max_examples=300, deadline=None)
@given(dk_points, dk_points | st.tuples(st.floats(-0.02, 0.02), st.floats(-0.02, 0.02)))
def test_ellipsoid_km_within_a_metre_of_geopy_geodesic_in_denmark(a, b) -> None:
    """The km shown on proposals: Lambert's formula against Karney's geodesic (geopy), for
    pairs across the country and pairs a few hundred metres apart (b as an offset)."""
    if abs(b[0]) < 1:
        b = (a[0] + b[0], a[1] + b[1])
    exact = geodesic(a, b).km
    fast = float(ellipsoid_km(a[0], a[1], np.array([b[0]]), np.array([b[1]]))[0])
    assert abs(fast - exact) <= 0.001


def test_ellipsoid_km_of_a_point_to_itself_is_zero_and_broadcasts() -> None:
    km = ellipsoid_km(
        np.array([[56.0], [55.0]]),
        np.array([[10.0], [12.0]]),
        np.array([56.0, 55.0]),
        np.array([10.0, 12.0]),
    )
    assert km.shape == (2, 2)
    assert km[0, 0] == 0.0 and km[1, 1] == 0.0
    assert km[0, 1] == pytest.approx(geodesic((56.0, 10.0), (55.0, 12.0)).km, abs=0.001)


@settings(max_examples=30, deadline=None)
@given(dk_points, st.floats(1.0, 300.0), st.integers(0, 2**32 - 1))
def test_pruning_finds_exactly_the_points_within_the_limit(centre, km, seed) -> None:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(54.6, 57.7, 500)
    lon = rng.uniform(8.1, 15.1, 500)
    found = set(SpatialIndex(lat, lon).within(centre[0], centre[1], km).tolist())
    dist = haversine_km(centre[0], centre[1], lat, lon)
    must = set(np.flatnonzero(dist <= km * (1 - 1e-9)).tolist())
    must_not = set(np.flatnonzero(dist > km * (1 + 1e-6)).tolist())
    assert must <= found
    assert not (found & must_not)
