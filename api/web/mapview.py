"""An offline map as inline SVG: Denmark drawn from the postcode points of the geodata
directory (no tile server is needed or reachable), with the child's places and the proposed
options on top."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from geo.gazetteer import Gazetteer

__all__ = ["Marker", "svg_map"]

WIDTH = 640
PAD_KM = 8.0
MIN_SPAN_KM = 30.0


@dataclass(frozen=True)
class Marker:
    lat: float
    lon: float
    label: str  # the accessible name, e.g. "Hjem" or "1: plejefamilie f12"
    css: str  # home, school, daycare, tier1 .. tier4
    text: str = ""  # drawn inside the marker (a rank number)


def svg_map(gazetteer: Gazetteer, markers: list[Marker], title: str) -> str:
    """An SVG of the markers' surroundings; every postcode point inside it is a grey dot."""
    if not markers:
        return ""
    lats = [m.lat for m in markers]
    lons = [m.lon for m in markers]
    mid_lat = (min(lats) + max(lats)) / 2
    km_lat = 111.2
    km_lon = 111.2 * math.cos(math.radians(mid_lat))
    half_h = max((max(lats) - min(lats)) * km_lat / 2 + PAD_KM, MIN_SPAN_KM / 2)
    half_w = max((max(lons) - min(lons)) * km_lon / 2 + PAD_KM, MIN_SPAN_KM / 2)
    half_w = max(half_w, half_h * 1.3)  # a landscape frame
    half_h = max(half_h, half_w / 1.6)
    centre_lon = (min(lons) + max(lons)) / 2
    scale = WIDTH / (2 * half_w)  # px per km
    height = round(2 * half_h * scale)

    def xy(lat: Any, lon: Any) -> tuple[Any, Any]:
        x = ((lon - centre_lon) * km_lon + half_w) * scale
        y = (half_h - (lat - mid_lat) * km_lat) * scale
        return x, y

    plat = np.asarray(gazetteer.postcodes.lat, dtype=float)
    plon = np.asarray(gazetteer.postcodes.lon, dtype=float)
    px, py = xy(plat, plon)
    px, py = np.asarray(px), np.asarray(py)
    inside = (px >= 0) & (px <= WIDTH) & (py >= 0) & (py <= height)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2"/>'
        for x, y in zip(px[inside], py[inside], strict=True)
    )
    parts = [
        f'<svg class="map" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="map-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="map-title">{escape(title)}</title>',
        f'<rect width="{WIDTH}" height="{height}" class="sea"/>',
        f'<g class="land">{dots}</g>',
    ]
    bar_km = 10 if half_w < 40 else 50
    parts.append(
        f'<g class="scale"><line x1="10" y1="{height - 12}" x2="{10 + bar_km * scale:.1f}" '
        f'y2="{height - 12}"/><text x="10" y="{height - 16}">{bar_km} km</text></g>'
    )
    for m in markers:
        x, y = xy(m.lat, m.lon)
        parts.append(
            f'<g class="marker {escape(m.css)}"><title>{escape(m.label)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9"/>'
            f'<text x="{x:.1f}" y="{float(y) + 4:.1f}" text-anchor="middle">{escape(m.text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
