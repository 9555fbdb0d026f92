"""geopy's Geocoder interface over the offline gazetteer (its own module: geopy takes 0.15 s
to import, and only the code that asks for a geocoder pays for it)."""

from __future__ import annotations

from typing import Any

from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

from geo.gazetteer import Gazetteer

__all__ = ["OfflineGeocoder"]


class OfflineGeocoder(Geocoder):
    """geopy's Geocoder interface over the gazetteer: no HTTP request is ever made.

    geocode("8300") -> the postcode's point; geocode("school:751008") -> a school's
    point; reverse((lat, lon)) -> the nearest postcode.
    """

    def __init__(self, gazetteer: Gazetteer) -> None:
        super().__init__()
        self.gazetteer = gazetteer

    def geocode(self, query: str, *, exactly_one: bool = True, **_: Any) -> Location | None:
        text = str(query).strip()
        if text.lower().startswith("school:"):
            school_id = text.split(":", 1)[1].strip()
            point = self.gazetteer.school_point(school_id)
            if point is None:
                return None
            row = self.gazetteer.schools.frame.iloc[self.gazetteer.schools.keys[school_id]]
            address = f"{row.get('name', school_id)}, {row.get('postcode', '')}".strip(", ")
            return Location(address, Point(*point), dict(row))
        point = self.gazetteer.postcode_point(text)
        if point is None:
            return None
        row = self.gazetteer.postcodes.frame.iloc[self.gazetteer.postcodes.keys[text]]
        return Location(f"{text} {row.get('place', '')}".strip(), Point(*point), dict(row))

    def reverse(self, query: Any, *, exactly_one: bool = True, **_: Any) -> Location | None:
        point = Point(query)
        postcode, _km = self.gazetteer.nearest_postcode(point.latitude, point.longitude)
        return self.geocode(postcode)
