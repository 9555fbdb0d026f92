"""Offline Danish geography: gazetteer, geopy-compatible geocoder, distances, pruning."""

from geo.distance import EARTH_RADIUS_KM, ellipsoid_km, geodesic_km, haversine_km, to_unit_vectors
from geo.gazetteer import (
    GEODATA_ENV,
    Gazetteer,
    GeodataError,
    OfflineGeocoder,
    default_gazetteer,
)
from geo.pruning import SpatialIndex

__all__ = [
    "EARTH_RADIUS_KM",
    "GEODATA_ENV",
    "Gazetteer",
    "GeodataError",
    "OfflineGeocoder",
    "SpatialIndex",
    "default_gazetteer",
    "ellipsoid_km",
    "geodesic_km",
    "haversine_km",
    "to_unit_vectors",
]
