"""Offline Danish geography: gazetteer, geopy-compatible geocoder, distances, pruning.

`OfflineGeocoder` and `SpatialIndex` load on first use (geopy and scipy.spatial take a third
of a second to import, which a command that needs neither should not pay)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models._lazy import lazy_exports

if TYPE_CHECKING:
    from geo.distance import (
        EARTH_RADIUS_KM,
        arc_km,
        ellipsoid_km,
        geodesic_km,
        haversine_km,
        to_unit_vectors,
    )
    from geo.gazetteer import GEODATA_ENV, Gazetteer, GeodataError, default_gazetteer
    from geo.geocoder import OfflineGeocoder
    from geo.pruning import SpatialIndex

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


__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "geo.distance": (
            "EARTH_RADIUS_KM",
            "arc_km",
            "ellipsoid_km",
            "geodesic_km",
            "haversine_km",
            "to_unit_vectors",
        ),
        "geo.gazetteer": (
            "GEODATA_ENV",
            "Gazetteer",
            "GeodataError",
            "default_gazetteer",
            "OfflineGeocoder",
        ),
        "geo.pruning": ("SpatialIndex",),
    },
)
