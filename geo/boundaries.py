"""Kommune boundaries for drawing offline maps: the DAGI outlines of dk_kommuner.geojson (see
../shared/geodata/README.md), read once, projected to km and simplified per drawing scale.

The geodata stays where it is (the directory of `PLACEMENT_GEODATA_DIR` or the gazetteer's);
nothing is copied. A missing file is not an error here: callers draw without boundaries.
Simplification is Douglas-Peucker in plain numpy (no shapely on this machine), so a map of
Denmark needs a few thousand points instead of the file's 41,000."""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from geo.gazetteer import GEODATA_ENV

__all__ = [
    "FILE",
    "KM_PER_DEG_LAT",
    "KommuneOutline",
    "Outlines",
    "boundaries_path",
    "douglas_peucker",
    "load_outlines",
    "to_km",
]

FILE = "dk_kommuner.geojson"
KM_PER_DEG_LAT = 111.2
# One fixed projection for all of Denmark (equirectangular at 56° N): good to ~1 % over the
# country, and it lets one simplified copy serve every map.
REF_LAT, REF_LON = 56.0, 10.5
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(REF_LAT))


def to_km(lat: np.ndarray | float, lon: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(x east, y north) in km from 56° N 10.5° E."""
    x = (np.asarray(lon, dtype=float) - REF_LON) * KM_PER_DEG_LON
    y = (np.asarray(lat, dtype=float) - REF_LAT) * KM_PER_DEG_LAT
    return x, y


def douglas_peucker(points: np.ndarray, tolerance: float) -> np.ndarray:
    """The points (n x 2) of a line kept by Douglas-Peucker: none of the dropped ones lies
    further than `tolerance` from the simplified line. First and last points always stay."""
    n = len(points)
    if n < 3 or tolerance <= 0:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        start, end = stack.pop()
        if end - start < 2:
            continue
        a, b = points[start], points[end]
        inner = points[start + 1 : end]
        ab = b - a
        length = math.hypot(ab[0], ab[1])
        if length == 0.0:
            dist = np.hypot(inner[:, 0] - a[0], inner[:, 1] - a[1])
        else:
            dist = np.abs(ab[0] * (inner[:, 1] - a[1]) - ab[1] * (inner[:, 0] - a[0])) / length
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            split = start + 1 + i
            keep[split] = True
            stack.append((start, split))
            stack.append((split, end))
    return points[keep]


def _simplify_ring(ring: np.ndarray, tolerance: float) -> np.ndarray | None:
    """A closed ring simplified (split at its far point so both halves keep their ends);
    None when too little of it is left to draw at this scale."""
    if len(ring) < 4:
        return None
    far = int(np.argmax(np.hypot(ring[:, 0] - ring[0, 0], ring[:, 1] - ring[0, 1])))
    first = douglas_peucker(ring[: far + 1], tolerance)
    second = douglas_peucker(ring[far:], tolerance)
    out = np.vstack([first, second[1:]])
    if len(out) < 4:
        return None
    span = out.max(axis=0) - out.min(axis=0)
    if span.max() < 2 * tolerance:  # an islet smaller than the drawing's detail
        return None
    return out


@dataclass(frozen=True)
class KommuneOutline:
    kommune_code: str
    name: str
    rings: tuple[np.ndarray, ...]  # each m x 2: x, y in km (see to_km)
    box: tuple[float, float, float, float]  # min x, min y, max x, max y in km


@dataclass(frozen=True)
class Outlines:
    kommuner: tuple[KommuneOutline, ...]
    box: tuple[float, float, float, float]

    @property
    def points(self) -> int:
        return sum(len(r) for k in self.kommuner for r in k.rings)


def boundaries_path(directory: str | Path | None = None) -> Path | None:
    """dk_kommuner.geojson in `directory` or else in $PLACEMENT_GEODATA_DIR, if it is there."""
    for base in (directory, os.environ.get(GEODATA_ENV)):
        if base:
            path = Path(base) / FILE
            if path.is_file():
                return path
    return None


_read_lock = threading.Lock()


@lru_cache(maxsize=4)
def _raw(path: str) -> tuple[tuple[str, str, tuple[np.ndarray, ...]], ...]:
    with Path(path).open(encoding="utf-8") as handle:
        data = json.load(handle)
    kommuner = []
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        polygons = geometry.get("coordinates") or []
        if geometry.get("type") == "Polygon":
            polygons = [polygons]
        rings = []
        for polygon in polygons:
            for ring in polygon:
                lonlat = np.asarray(ring, dtype=float)[:, :2]
                x, y = to_km(lonlat[:, 1], lonlat[:, 0])
                rings.append(np.column_stack([x, y]))
        kommuner.append(
            (str(props.get("kommune_code", "")), str(props.get("name", "")), tuple(rings))
        )
    return tuple(kommuner)


@lru_cache(maxsize=16)
def _outlines(path: str, tolerance_km: float) -> Outlines:
    kommuner = []
    for code, name, rings in _raw(path):
        kept = tuple(
            r for r in (_simplify_ring(ring, tolerance_km) for ring in rings) if r is not None
        )
        if not kept:
            # Never lose a kommune at a coarse scale: its largest ring stays, coarsely drawn.
            largest = max(rings, key=lambda r: float(np.ptp(r, axis=0).max()), default=None)
            if largest is None or len(largest) < 4:
                continue
            coarse = douglas_peucker(largest, tolerance_km)
            kept = (coarse if len(coarse) >= 4 else largest,)
        stacked = np.vstack(kept)
        low, high = stacked.min(axis=0), stacked.max(axis=0)
        box = (float(low[0]), float(low[1]), float(high[0]), float(high[1]))
        kommuner.append(KommuneOutline(code, name, kept, box))
    boxes = np.array([k.box for k in kommuner]) if kommuner else np.zeros((1, 4))
    whole = (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )
    return Outlines(tuple(kommuner), whole)


def load_outlines(path: str | Path, tolerance_km: float) -> Outlines:
    """The kommuner of `path` simplified to `tolerance_km`, read and simplified once per
    (file, tolerance) and then kept in memory. Raises OSError / ValueError on a bad file."""
    with _read_lock:  # the first map of each scale does the work once, not per request
        return _outlines(str(path), float(tolerance_km))
