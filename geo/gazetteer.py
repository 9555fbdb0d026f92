"""Offline Danish geography: postcodes, kommuner and schools from a configurable directory.

The tables come from `PLACEMENT_GEODATA_DIR` (see ../shared/geodata/README.md). Where no
directory is configured and the machine is online, the GeoNames DK postcode table can be
fetched once by `pgeocode` into its cache (`Gazetteer.from_pgeocode`); schools and kommune
names are then unknown. Nothing here touches the network unless that is asked for.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.distance import haversine_km

if TYPE_CHECKING:  # pandas and geopy load on first use: a CLI run that needs neither
    import pandas as pd  # (most of them) starts 0.3 s sooner without them

    from geo.geocoder import OfflineGeocoder

__all__ = ["GEODATA_ENV", "Gazetteer", "GeodataError", "OfflineGeocoder", "default_gazetteer"]

GEODATA_ENV = "PLACEMENT_GEODATA_DIR"
_KOMMUNE_COLUMNS = ("kommune_code", "name", "region", "lat", "lon")

# A table as read from its CSV file: column -> values (text, but float lat and lon).
Columns = dict[str, list[Any]]


class GeodataError(RuntimeError):
    """The geodata directory is missing or a table in it is unreadable."""


class _Table:
    """One table's lookups (key -> row, lat and lon arrays) and, on first use, its pandas
    frame. Built from a frame, or from the columns of its CSV file without pandas."""

    def __init__(self, table: pd.DataFrame | Columns, key: str) -> None:
        if isinstance(table, dict):
            self._columns: Columns | None = table
            self._frame: pd.DataFrame | None = None
            keys = [str(k) for k in table[key]]
            self.lat = np.asarray(table["lat"], dtype=float)
            self.lon = np.asarray(table["lon"], dtype=float)
        else:
            self._columns, self._frame = None, table.reset_index(drop=True)
            keys = [str(k) for k in self._frame[key].astype(str)]
            self.lat = self._frame["lat"].to_numpy(float)
            self.lon = self._frame["lon"].to_numpy(float)
        self.ids = keys
        self.keys: dict[str, int] = {k: i for i, k in enumerate(keys)}

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = _frame(self._columns or {})
        return self._frame


def _frame(columns: Columns) -> pd.DataFrame:
    """The frame `pd.read_csv(path, dtype=str, keep_default_na=False)` gave, lat and lon as
    float: text columns as pandas' str dtype."""
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series(v, dtype=str) for c, v in columns.items()})
    for column in ("lat", "lon"):
        if column in columns:
            frame[column] = np.asarray(columns[column], dtype=float)
    return frame


def _read_columns(path: Path) -> Columns:
    """A geodata CSV file as columns of text, lat and lon as float (the stdlib reader: the
    three files take 10 ms this way, pandas itself takes 0.2 s to import)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise GeodataError(f"{path} is empty; a header row is required")
    header = [h.lstrip("\ufeff") for h in rows[0]]
    columns: Columns = {h: [] for h in header}
    width = len(header)
    lists = [columns[h] for h in header]
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != width:
            raise GeodataError(f"{path} line {n}: {len(row)} fields; the header has {width}")
        for values, value in zip(lists, row, strict=True):
            values.append(value)
    for column in ("lat", "lon"):
        if column not in columns:
            raise GeodataError(f"{path}: the column {column} is required")
        try:
            columns[column] = [float(v) for v in columns[column]]
        except ValueError as exc:
            raise GeodataError(f"{path}: {column} must be a number ({exc})") from None
    return columns


class Gazetteer:
    """Lookups by postcode, school institution number and kommune code."""

    def __init__(
        self,
        postcodes: pd.DataFrame | Columns,
        schools: pd.DataFrame | Columns | None = None,
        kommuner: pd.DataFrame | Columns | None = None,
        source: str = "",
    ) -> None:
        self.source = source
        self.postcodes = _Table(postcodes, "postcode")
        self.schools = _Table(
            schools if schools is not None else {"institution_number": [], "lat": [], "lon": []},
            "institution_number",
        )
        table = kommuner if kommuner is not None else {c: [] for c in _KOMMUNE_COLUMNS}
        if isinstance(table, dict):
            self._kommuner: pd.DataFrame | None = None
            self._kommuner_columns: Columns | None = table
            codes = [str(c) for c in table["kommune_code"]]
            self._kommune_names = dict(zip(codes, map(str, table.get("name", [])), strict=False))
        else:
            self._kommuner, self._kommuner_columns = table, None
            codes = [str(c) for c in table["kommune_code"].astype(str)]
            names: list[str] = list(table["name"].astype(str)) if "name" in table else []
            self._kommune_names = dict(zip(codes, names, strict=False))
        self._kommune_codes = set(codes)

    @property
    def kommuner(self) -> pd.DataFrame:
        """The kommune table (kommune_code, name, region, lat, lon) as a frame."""
        if self._kommuner is None:
            self._kommuner = _frame(self._kommuner_columns or {})
        return self._kommuner

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_directory(cls, directory: str | Path) -> Gazetteer:
        directory = Path(directory)
        read: dict[str, Columns] = {}
        for name in ("dk_postcodes", "dk_schools", "dk_kommuner"):
            path = directory / f"{name}.csv"
            if not path.exists():
                raise GeodataError(
                    f"{path} is missing; {GEODATA_ENV} must name a directory "
                    "with dk_postcodes.csv, dk_schools.csv and dk_kommuner.csv"
                )
            read[name] = _read_columns(path)
        return cls(
            read["dk_postcodes"], read["dk_schools"], read["dk_kommuner"], source=str(directory)
        )

    @classmethod
    def from_pgeocode(cls) -> Gazetteer:  # pragma: no cover - needs the network once
        import pandas as pd
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
        return self.postcodes.ids[i], float(km[i])

    def kommune_name(self, kommune_code: str) -> str | None:
        return self._kommune_names.get(kommune_code)


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


def __getattr__(name: str) -> Any:
    # geopy (0.15 s to import: it loads requests for its online geocoders) only for those
    # who ask for the geocoder.
    if name == "OfflineGeocoder":
        from geo.geocoder import OfflineGeocoder

        return OfflineGeocoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
