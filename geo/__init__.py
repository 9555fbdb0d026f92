"""Offline Danish geography: gazetteer, geopy-compatible geocoder, distances, pruning.

`OfflineGeocoder` and `SpatialIndex` load on first use (geopy and scipy.spatial take a third
of a second to import, which a command that needs neither should not pay)."""

from typing import Any

from geo.distance import (
    EARTH_RADIUS_KM,
    arc_km,
    ellipsoid_km,
    geodesic_km,
    haversine_km,
    to_unit_vectors,
)
from geo.gazetteer import GEODATA_ENV, Gazetteer, GeodataError, default_gazetteer

__all__ = [
    "EARTH_RADIUS_KM",
    "GEODATA_ENV",
    "Gazetteer",
    "GeodataError",
    "OfflineGeocoder",
    "SpatialIndex",
    "arc_km",
    "default_gazetteer",
    "ellipsoid_km",
    "geodesic_km",
    "haversine_km",
    "to_unit_vectors",
]


def __getattr__(name: str) -> Any:
    if name == "OfflineGeocoder":
        from geo import gazetteer

        return gazetteer.OfflineGeocoder
    if name == "SpatialIndex":
        from geo.pruning import SpatialIndex

        return SpatialIndex
    raise AttributeError(f"module 'geo' has no attribute {name!r}")
