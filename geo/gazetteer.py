"""Offline Danish geography: postcodes, kommuner and schools from a configurable directory.

The tables come from `PLACEMENT_GEODATA_DIR` (see ../shared/geodata/README.md). Where no
directory is configured and the machine is online, the GeoNames DK postcode table can be
fetched once by `pgeocode` into its cache (`Gazetteer.from_pgeocode`); schools and kommune
names are then unknown. Nothing here touches the network unless that is asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

from geo.distance import haversine_km

__all__ = ["GEODATA_ENV", "Gazetteer", "GeodataError", "OfflineGeocoder", "default_gazetteer"]

GEODATA_ENV = "PLACEMENT_GEODATA_DIR"


class GeodataError(RuntimeError):
    """The geodata directory is missing or a table in it is unreadable."""


@dataclass(frozen=True)
class _Table:
    keys: dict[str, int]
    lat: np.ndarray
    lon: np.ndarray
    frame: pd.DataFrame


def _index(frame: pd.DataFrame, key: str) -> _Table:
    keys = {str(k): i for i, k in enumerate(frame[key].astype(str))}
    return _Table(keys, frame["lat"].to_numpy(float), frame["lon"].to_numpy(float), frame)


class Gazetteer:
    """Lookups by postcode, school institution number and kommune code."""

    def __init__(
        self,
        postcodes: pd.DataFrame,
        schools: pd.DataFrame | None = None,
        kommuner: pd.DataFrame | None = None,
        source: str = "",
    ) -> None:
        self.source = source
        self.postcodes = _index(postcodes.reset_index(drop=True), "postcode")
        self.schools = _index(
            (schools if schools is not None else _empty_schools()).reset_index(drop=True),
            "institution_number",
        )
        self.kommuner = (
            kommuner
            if kommuner is not None
            else pd.DataFrame(columns=["kommune_code", "name", "region", "lat", "lon"])
        )
        self._kommune_codes = set(self.kommuner["kommune_code"].astype(str))

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_directory(cls, directory: str | Path) -> Gazetteer:
        directory = Path(directory)
        read: dict[str, pd.DataFrame] = {}
        for name in ("dk_postcodes", "dk_schools", "dk_kommuner"):
            path = directory / f"{name}.csv"
            if not path.exists():
                raise GeodataError(
                    f"{path} is missing; {GEODATA_ENV} must name a directory "
                    "with dk_postcodes.csv, dk_schools.csv and dk_kommuner.csv"
                )
            read[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
            for column in ("lat", "lon"):
                read[name][column] = read[name][column].astype(float)
        return cls(
            read["dk_postcodes"], read["dk_schools"], read["dk_kommuner"], source=str(directory)
        )

    @classmethod
    def from_pgeocode(cls) -> Gazetteer:  # pragma: no cover - needs the network once
        import pgeocode  # optional extra 'placement[online]'

        data = pgeocode.Nominatim("dk")._data
        postcodes = pd.DataFrame(
            {
                "postcode": data["postal_code"].astype(str).str.zfill(4),
                "place": data["place_name"],
                "kommune_code": "",
                "lat": data["latitude"].astype(float),
                "lon": data["longitude"].astype(float),
            }
        ).dropna(subset=["lat", "lon"])
        return cls(postcodes, source="pgeocode GeoNames DK")

    # -- PlaceResolver ----------------------------------------------------------------------
    def postcode_point(self, postcode: str) -> tuple[float, float] | None:
        i = self.postcodes.keys.get(postcode)
        return None if i is None else (float(self.postcodes.lat[i]), float(self.postcodes.lon[i]))

    def school_point(self, school_id: str) -> tuple[float, float] | None:
        i = self.schools.keys.get(school_id)
        return None if i is None else (float(self.schools.lat[i]), float(self.schools.lon[i]))

    def has_kommune(self, kommune_code: str) -> bool:
        # Without a kommune table (pgeocode fallback) any 3-digit code is accepted.
        return not self._kommune_codes or kommune_code in self._kommune_codes

    # -- helpers ----------------------------------------------------------------------------
    def nearest_postcode(self, lat: float, lon: float) -> tuple[str, float]:
        km = haversine_km(lat, lon, self.postcodes.lat, self.postcodes.lon)
        i = int(np.argmin(km))
        return str(self.postcodes.frame["postcode"].iloc[i]), float(km[i])

    def kommune_name(self, kommune_code: str) -> str | None:
        hit = self.kommuner.loc[self.kommuner["kommune_code"].astype(str) == kommune_code]
        return None if hit.empty else str(hit["name"].iloc[0])


def _empty_schools() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "institution_number": pd.Series(dtype=str),
            "lat": pd.Series(dtype=float),
            "lon": pd.Series(dtype=float),
        }
    )


def default_gazetteer(directory: str | Path | None = None) -> Gazetteer:
    """The configured gazetteer: an explicit directory, else $PLACEMENT_GEODATA_DIR."""
    chosen = directory or os.environ.get(GEODATA_ENV)
    if chosen:
        return Gazetteer.from_directory(chosen)
    raise GeodataError(
        f"no geodata directory: set {GEODATA_ENV} to a directory with dk_postcodes.csv, "
        "dk_schools.csv and dk_kommuner.csv (here: ../shared/geodata), or, on a machine "
        "online, install 'placement[online]' and use Gazetteer.from_pgeocode()"
    )


class OfflineGeocoder(Geocoder):
    """geopy's Geocoder interface over the gazetteer: no HTTP request is ever made.

    geocode("8300") -> the postcode's point; geocode("school:751008") -> a school's point;
    reverse((lat, lon)) -> the nearest postcode.
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
