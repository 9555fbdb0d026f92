"""Distances: `arc_km` (great circle over stored unit vectors) for ranking and batch, the
WGS84 ellipsoid for display.

Haversine on a sphere stays within 0.34 % (under 1 km) of the WGS84 geodesic inside Denmark
(SOLVER-NOTES.md), far below what separates two placement options. The km shown to a
caseworker on a proposal come from `ellipsoid_km` (Lambert's formula on WGS84, vectorised):
within a metre of geopy's geodesic inside Denmark (tested against geopy), at a fraction of
a microsecond per pair instead of about 100.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_RADIUS_KM",
    "arc_km",
    "ellipsoid_km",
    "geodesic_km",
    "haversine_km",
    "pair_arc_km",
    "point_vectors",
    "to_unit_vectors",
]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
WGS84_A_KM = 6378.137
WGS84_F = 1 / 298.257223563
FloatArray = npt.NDArray[np.float64]


def haversine_km(
    lat1: float | FloatArray, lon1: float | FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle km between points in degrees; broadcasts like numpy (NaN in, NaN out)."""
    p1, l1, p2, l2 = (np.radians(x) for x in (lat1, lon1, lat2, lon2))
    return haversine_km_radians(p1, l1, p2, l2)


def haversine_km_radians(
    p1: float | FloatArray, l1: float | FloatArray, p2: FloatArray, l2: FloatArray
) -> FloatArray:
    """As haversine_km on coordinates already in radians (`ellipsoid_km` works in them)."""
    a = np.sin((p2 - p1) * 0.5) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def arc_km(
    points: tuple[tuple[float, float], ...], x: FloatArray, y: FloatArray, z: FloatArray
) -> FloatArray:
    """Great-circle km from each of a few points (degrees) to many points given as the
    components of their unit vectors: one row per point, the same numbers as haversine_km.

    The hot path of ranking: the chord between unit vectors, then the arc over it, is the
    haversine formula without its per-call trigonometry on the many points (sin(a/2) is
    half the chord), so one child's home, schools and daycares against 7,000 options cost
    a sixth of the haversine calls. The chord is summed from component differences, not
    taken as 2 - 2 x.p, which would lose everything below a few metres to cancellation."""
    out = np.empty((len(points), len(x)))
    if not len(points):
        return out
    for k, (a, b, c) in enumerate(point_vectors(points).tolist()):
        _chord(x, y, z, a, b, c, out=out[k])
    return _arc_of_chord(out)


def _chord(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    a: FloatArray | float,
    b: FloatArray | float,
    c: FloatArray | float,
    out: FloatArray | None = None,
) -> FloatArray:
    """The chord between unit vectors, summed from component differences (into `out`)."""
    squares = np.subtract(x, a)
    squares *= squares
    d = np.subtract(y, b)
    d *= d
    squares += d
    np.subtract(z, c, out=d)
    d *= d
    squares += d
    return np.sqrt(squares, out=squares if out is None else out)


def _arc_of_chord(chord: FloatArray) -> FloatArray:
    """Km along the great circle over each chord (in place): sin(a/2) is half the chord."""
    chord *= 0.5
    np.minimum(chord, 1.0, out=chord)
    np.arcsin(chord, out=chord)
    chord *= 2.0 * EARTH_RADIUS_KM
    return chord


def point_vectors(points: tuple[tuple[float, float], ...]) -> FloatArray:
    """Unit vectors (rows) of points in degrees, by the same numpy functions as the
    options' (`to_unit_vectors`), so that two equal places are 0 km apart exactly; without
    its column_stack, a third of `arc_km`'s time for five points."""
    p, lam = np.radians(np.array(points, dtype=np.float64).reshape(len(points), 2)).T
    cos_p = np.cos(p)
    return np.stack((cos_p * np.cos(lam), cos_p * np.sin(lam), np.sin(p)), axis=1)


def pair_arc_km(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    a: FloatArray | float,
    b: FloatArray | float,
    c: FloatArray | float,
) -> FloatArray:
    """Great-circle km between pairs of points given as unit-vector components, pair by
    pair: the numbers of `arc_km`, by the same operations in the same order on each pair
    (the batch matcher's distances over many units at once)."""
    return _arc_of_chord(_chord(x, y, z, a, b, c))


def ellipsoid_km(
    lat1: float | FloatArray, lon1: float | FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Km on the WGS84 ellipsoid by Lambert's formula for long lines; broadcasts like numpy.

    The central angle is taken between reduced latitudes and then corrected for the
    flattening; the error is about 10 m over thousands of km and under a metre at Danish
    distances, well below the 0.1 km a proposal shows.
    """
    b1 = np.arctan((1 - WGS84_F) * np.tan(np.radians(lat1)))
    b2 = np.arctan((1 - WGS84_F) * np.tan(np.radians(lat2)))
    sigma = haversine_km_radians(b1, np.radians(lon1), b2, np.radians(lon2)) / EARTH_RADIUS_KM
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (sigma - np.sin(sigma)) * np.sin(p) ** 2 * np.cos(q) ** 2 / np.cos(sigma / 2) ** 2
        y = (sigma + np.sin(sigma)) * np.cos(p) ** 2 * np.sin(q) ** 2 / np.sin(sigma / 2) ** 2
        km = WGS84_A_KM * (sigma - WGS84_F / 2 * (x + y))
    return np.asarray(np.where(sigma == 0, 0.0, km), dtype=np.float64)


def geodesic_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """geopy's geodesic (Karney), one pair at a time: the reference `ellipsoid_km` is
    tested against."""
    from geopy.distance import geodesic  # only here: geopy takes 0.15 s to import

    return float(geodesic(a, b).km)


def to_unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """3-D unit vectors, so that Euclidean chord distance orders points like arc distance."""
    p, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)))
