"""`arc_km`, the ranking's distance, against the haversine formula it replaces."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import arc_km, haversine_km, pair_arc_km, point_vectors, to_unit_vectors

# Denmark and a margin: the places the service ever measures between.
lats = st.floats(54.0, 58.0)
lons = st.floats(7.5, 15.5)


def _columns(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.ascontiguousarray(c) for c in to_unit_vectors(lat, lon).T)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(st.tuples(lats, lons), min_size=1, max_size=5),
    others=st.lists(st.tuples(lats, lons), min_size=1, max_size=30),
)
def test_arc_km_is_the_haversine_distance(points, others) -> None:
    lat, lon = (np.array(c, dtype=np.float64) for c in zip(*others, strict=True))
    got = arc_km(tuple(points), *_columns(lat, lon))
    assert got.shape == (len(points), len(others))
    for row, (p_lat, p_lon) in zip(got, points, strict=True):
        np.testing.assert_allclose(row, haversine_km(p_lat, p_lon, lat, lon), rtol=1e-9, atol=1e-6)


def test_the_same_place_is_zero_km_and_nearby_places_keep_their_metres() -> None:
    lat, lon = np.array([56.1572, 56.1572]), np.array([10.2107, 10.2108])  # 6 m apart
    km = arc_km(((56.1572, 10.2107),), *_columns(lat, lon))[0]
    assert km[0] == 0.0
    assert abs(km[1] - haversine_km(56.1572, 10.2107, lat, lon)[1]) < 1e-9
    assert 0.005 < km[1] < 0.007


def test_no_points_give_no_rows() -> None:
    assert arc_km((), *_columns(np.array([55.0]), np.array([10.0]))).shape == (0, 1)


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(st.tuples(lats, lons), min_size=1, max_size=5),
    others=st.lists(st.tuples(lats, lons), min_size=1, max_size=30),
)
def test_pair_arc_km_is_arc_km_pair_by_pair_to_the_last_bit(points, others) -> None:
    """The batch's distances over pairs (each option with its own unit's point) are the
    very numbers of `arc_km`, including where many points' vectors are made at once."""
    lat, lon = (np.array(c, dtype=np.float64) for c in zip(*others, strict=True))
    x, y, z = _columns(lat, lon)
    rows = arc_km(tuple(points), x, y, z)
    vectors = point_vectors(tuple(points))
    for k, (a, b, c) in enumerate(vectors):
        n = len(others)
        got = pair_arc_km(x, y, z, np.full(n, a), np.full(n, b), np.full(n, c))
        assert got.tolist() == rows[k].tolist()
    # Point k against option k, for as many points as options: the diagonal of arc_km.
    n = min(len(points), len(others))
    got = pair_arc_km(x[:n], y[:n], z[:n], *vectors[:n].T)
    assert got.tolist() == [rows[k][k] for k in range(n)]
