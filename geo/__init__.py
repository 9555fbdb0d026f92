"""Offline Danish geography: gazetteer, geopy-compatible geocoder, distances, pruning.

`OfflineGeocoder` and `SpatialIndex` load on first use (geopy and scipy.spatial take a third
of a second to import, which a command that needs neither should not pay)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


# Where each name lives, imported on first use (PEP 562): numpy, pandas and scipy.spatial
# only when a distance, the gazetteer or the index is asked for.
_HOME = {
    "EARTH_RADIUS_KM": "geo.distance",
    "arc_km": "geo.distance",
    "ellipsoid_km": "geo.distance",
    "geodesic_km": "geo.distance",
    "haversine_km": "geo.distance",
    "to_unit_vectors": "geo.distance",
    "GEODATA_ENV": "geo.gazetteer",
    "Gazetteer": "geo.gazetteer",
    "GeodataError": "geo.gazetteer",
    "default_gazetteer": "geo.gazetteer",
    "OfflineGeocoder": "geo.gazetteer",
    "SpatialIndex": "geo.pruning",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'geo' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
