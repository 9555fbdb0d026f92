"""Spatial candidate pruning: only compare a child with options within the policy's limits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geo.distance import EARTH_RADIUS_KM, to_unit_vectors

__all__ = ["SpatialIndex"]


class SpatialIndex:
    """A KD-tree on 3-D unit vectors of option points."""

    def __init__(self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> None:
        from scipy.spatial import cKDTree  # 0.2 s to import: only where an index is built

        self._tree = cKDTree(to_unit_vectors(lat, lon))

    @staticmethod
    def _chord(km: float) -> float:
        # A small margin so that rounding never drops a point exactly at the limit; callers
        # still apply the exact limit to the candidates.
        return float(2.0 * np.sin(min(km, np.pi * EARTH_RADIUS_KM) / (2.0 * EARTH_RADIUS_KM)))

    def within(self, lat: float, lon: float, km: float) -> npt.NDArray[np.int64]:
        """Sorted indices of points within `km` (great circle) of (lat, lon)."""
        point = to_unit_vectors(np.array([lat]), np.array([lon]))[0]
        found = self._tree.query_ball_point(point, self._chord(km) * (1 + 1e-9))
        return np.sort(np.asarray(found, dtype=np.int64))

    def within_many(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], km: float
    ) -> list[npt.NDArray[np.int64]]:
        points = to_unit_vectors(lat, lon)
        found = self._tree.query_ball_point(points, self._chord(km) * (1 + 1e-9))
        return [np.array(sorted(f), dtype=np.int64) for f in found]
