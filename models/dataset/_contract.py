"""The contract's files and places (DESIGN.md §3): file names, Denmark, offline lookups."""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "DENMARK_BBOX",
    "FILES",
    "ID_COLUMNS",
    "MAX_AGE",
    "OPTIONAL_FILES",
    "PlaceResolver",
    "inside_denmark",
]

# Denmark incl. Bornholm and Skagen, with a small margin; Faroe Islands and Greenland excluded.
DENMARK_BBOX = (54.5, 57.8, 8.0, 15.3)  # lat_min, lat_max, lon_min, lon_max

FILES = {
    "children": "children.csv",
    "network": "network.csv",
    "families": "families.csv",
    "institutions": "institutions.csv",
    "exclusions": "exclusions.csv",
    "keep_away": "keep_away.csv",
    "placements": "placements.csv",
}
OPTIONAL_FILES = {"exclusions", "keep_away", "placements"}

# The id column of each file whose rows other files refer to.
ID_COLUMNS = {
    "children": "child_id",
    "network": "person_id",
    "families": "family_id",
    "institutions": "institution_id",
}

MAX_AGE = 22


def inside_denmark(lat: float, lon: float) -> bool:
    lat_min, lat_max, lon_min, lon_max = DENMARK_BBOX
    return lat_min <= lat <= lat_max and lon_min <= lon <= lon_max


class PlaceResolver(Protocol):
    """Offline lookups the loader needs; `geo.Gazetteer` implements it."""

    def postcode_point(self, postcode: str) -> tuple[float, float] | None: ...

    def school_point(self, school_id: str) -> tuple[float, float] | None: ...

    def has_kommune(self, kommune_code: str) -> bool: ...
