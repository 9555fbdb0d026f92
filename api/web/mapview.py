"""An offline map as inline SVG: Denmark and its kommuner drawn from the DAGI boundaries of
the geodata directory (dk_kommuner.geojson; no tile server is needed or reachable), with the
child's places, the proposed options numbered and shaped by tier, the local-area radius
around the home, an inset of all Denmark, and a legend in words (not colour alone).

Without the boundary file the land is drawn as the postcode points, as before."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

import numpy as np

from api.web.labels import TIERS
from geo.boundaries import Outlines, boundaries_path, load_outlines, to_km
from geo.gazetteer import Gazetteer

__all__ = [
    "Circle",
    "Marker",
    "denmark_map",
    "local_circle",
    "local_radius",
    "svg_map",
]

WIDTH = 640
PAD_KM = 8.0
MIN_SPAN_KM = 30.0
INSET_WIDTH = 120
CIRCLE_FRAME_KM = 30.0
# Simplification levels (km) kept in memory; a map takes the coarsest finer than ~3 px.
LEVELS_KM = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
TIER_NAMES = {tier: name[:1].lower() + name[1:] for tier, name in TIERS.items()}
PLACE_NAMES = {
    "home": "H: barnets hjem",
    "school": "S: skole",
    "daycare": "D: dagtilbud",
    "option": "T: tilbuddets sted",
}


@dataclass(frozen=True)
class Marker:
    lat: float
    lon: float
    label: str  # the accessible name, e.g. "Hjem" or "1: plejefamilie f12"
    css: str  # home, school, daycare, tier1 .. tier4
    text: str = ""  # drawn inside the marker (a rank number)


@dataclass(frozen=True)
class Circle:
    """A radius around a point, e.g. the local area (nærmiljø) around the child's home."""

    lat: float
    lon: float
    radius_km: float
    label: str


def local_radius(policy: Any) -> tuple[float, str] | None:
    """The local-area radius of a policy and its name: `local_km` where the policy has one,
    else the distance limit for foster families (`limits_km`), else none. Read defensively:
    policies without either draw no circle."""
    local = getattr(policy, "local_km", None)
    if isinstance(local, dict):  # per kind, should it be: the foster families' radius
        local = next((v for k, v in local.items() if str(getattr(k, "value", k)) == "foster"), None)
    if isinstance(local, int | float) and not isinstance(local, bool) and local > 0:
        return float(local), f"Nærmiljø: {_km(float(local))} fra hjemmet"
    limits = getattr(policy, "limits_km", None) or {}
    for key, value in limits.items():
        if str(getattr(key, "value", key)) == "foster" and value and value > 0:
            return float(value), f"Afstandsgrænse for plejefamilier: {_km(float(value))}"
    return None


def local_circle(lat: float, lon: float, policy: Any) -> Circle | None:
    """The local-area circle of `policy` around a child's home (see `local_radius`)."""
    found = local_radius(policy)
    return None if found is None else Circle(lat, lon, found[0], found[1])


def _km(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} km"


def _outlines(gazetteer: Gazetteer, km_per_px: float) -> Outlines | None:
    path = boundaries_path(gazetteer.source or None)
    if path is None:
        return None
    wanted = 3.0 * km_per_px
    level = max((t for t in LEVELS_KM if t <= wanted), default=LEVELS_KM[0])
    try:
        return load_outlines(path, level)
    except (OSError, ValueError, KeyError, IndexError):
        return None  # an unreadable file: the map falls back to postcode points


def _ring_path(xs: np.ndarray, ys: np.ndarray, digits: int) -> str:
    """One closed ring as path data, consecutive repeats (after rounding) left out."""
    pts = np.round(np.column_stack([xs, ys]), digits)
    if len(pts) > 1:
        same = np.all(pts[1:] == pts[:-1], axis=1)
        pts = np.vstack([pts[:1], pts[1:][~same]])
    if len(pts) < 3:
        return ""
    fmt = "{:.0f},{:.0f}" if digits == 0 else "{:.1f},{:.1f}"
    coords = "L".join(fmt.format(x, y) for x, y in pts)
    return f"M{coords}Z"


class _Frame:
    """A km box drawn `width` px wide: x east, y north (geo.boundaries.to_km)."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, width: int) -> None:
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.scale = width / (x1 - x0)  # px per km
        self.width = width
        self.height = round((y1 - y0) * self.scale)

    def px(self, x: Any, y: Any) -> tuple[Any, Any]:
        return (np.asarray(x) - self.x0) * self.scale, (self.y1 - np.asarray(y)) * self.scale

    def overlaps(self, box: tuple[float, float, float, float]) -> bool:
        return not (box[2] < self.x0 or box[0] > self.x1 or box[3] < self.y0 or box[1] > self.y1)


def _names(gazetteer: Gazetteer, outlines: Outlines) -> dict[str, str]:
    """Kommune names from the gazetteer, e.g. "Aarhus Kommune" (today's names: the boundary
    file is of 2014 and writes "Århus")."""
    found = {k.kommune_code: gazetteer.kommune_name(k.kommune_code) for k in outlines.kommuner}
    return {code: name for code, name in found.items() if name}


def _kommune_paths(
    outlines: Outlines, frame: _Frame, own: set[str], digits: int, gazetteer: Gazetteer
) -> str:
    """The kommuner inside the frame, each one path (with its name as a tooltip). Points far
    outside are pulled onto a margin box: the drawing inside is the same, the SVG smaller."""
    names = _names(gazetteer, outlines)
    margin = 0.25 * (frame.x1 - frame.x0)
    lo_x, hi_x = frame.x0 - margin, frame.x1 + margin
    lo_y, hi_y = frame.y0 - margin, frame.y1 + margin
    parts = []
    for k in outlines.kommuner:
        if not frame.overlaps(k.box):
            continue
        rings = []
        for ring in k.rings:
            xs = np.clip(ring[:, 0], lo_x, hi_x)
            ys = np.clip(ring[:, 1], lo_y, hi_y)
            px, py = frame.px(xs, ys)
            d = _ring_path(px, py, digits)
            if d:
                rings.append(d)
        if not rings:
            continue
        css = "kommune own" if k.kommune_code in own else "kommune"
        title = f"<title>{escape(names.get(k.kommune_code, k.name + ' Kommune'))}</title>"
        parts.append(f'<path class="{css}" d="{"".join(rings)}">{title}</path>')
    return "".join(parts)


def _marker_svg(m: Marker, x: float, y: float) -> str:
    """A marker whose shape tells its kind too: squares for the child's places, and per tier
    a circle (1), a rounded square (2), a diamond (3) or a square (4)."""
    css = escape(m.css)
    if m.css.startswith("tier3"):
        d = f"M{x:.1f},{y - 11:.1f}L{x + 11:.1f},{y:.1f}L{x:.1f},{y + 11:.1f}L{x - 11:.1f},{y:.1f}Z"
        shape = f'<path class="shape" d="{d}"/>'
    elif m.css.startswith("tier1"):
        shape = f'<circle class="shape" cx="{x:.1f}" cy="{y:.1f}" r="9"/>'
    else:
        rx = ' rx="4"' if m.css.startswith("tier2") else ""
        corner = f'x="{x - 8.5:.1f}" y="{y - 8.5:.1f}"'
        shape = f'<rect class="shape" {corner} width="17" height="17"{rx}/>'
    return (
        f'<g class="marker {css}"><title>{escape(m.label)}</title>{shape}'
        f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(m.text)}</text></g>'
    )


def _legend(
    markers: Sequence[Marker], circle: Circle | None, boundaries: bool, own_name: str
) -> str:
    items = []
    kinds = {m.css for m in markers}
    for css, text in PLACE_NAMES.items():
        if css in kinds:
            items.append((css, text))
    for tier, name in TIER_NAMES.items():
        if f"tier{tier}" in kinds:
            shape = {1: "cirkel", 2: "afrundet firkant", 3: "rombe", 4: "firkant"}[tier]
            items.append((f"tier{tier}", f"Tal i {shape}: forslag på trin {tier}, {name}"))
    rows = [
        f'<li><svg class="swatch {css}" width="18" height="18" aria-hidden="true" '
        f'focusable="false"><rect x="1" y="1" width="16" height="16" rx="3"/></svg> '
        f"{escape(text)}</li>"
        for css, text in items
    ]
    if circle is not None:
        rows.append(
            '<li><svg class="swatch local" width="18" height="18" aria-hidden="true" '
            'focusable="false"><circle cx="9" cy="9" r="7"/></svg> '
            f"Stiplet cirkel: {escape(circle.label)}</li>"
        )
    if boundaries:
        rows.append(
            '<li><svg class="swatch border" width="18" height="18" aria-hidden="true" '
            'focusable="false"><rect x="1" y="1" width="16" height="16"/></svg> '
            f"Kommunegrænser ({escape(own_name)} er mørkere)</li>"
        )
    return '<ul class="map-legend">' + "".join(rows) + "</ul>"


@lru_cache(maxsize=4)
def _inset_land(path: str) -> tuple[str, tuple[float, float, float, float]]:
    """All Denmark's land as one path of the inset, and the inset's km box: the same for
    every map, so drawn once."""
    outlines = load_outlines(path, 4.0)
    x0, y0, x1, y1 = outlines.box
    box = (x0 - 5, y0 - 5, x1 + 5, y1 + 5)
    whole = _Frame(*box, INSET_WIDTH)
    land = "".join(
        _ring_path(*whole.px(r[:, 0], r[:, 1]), 0) for k in outlines.kommuner for r in k.rings
    )
    return land, box


def _inset(gazetteer: Gazetteer, frame: _Frame) -> str:
    """All Denmark, small, in the corner, with the main map's box marked."""
    path = boundaries_path(gazetteer.source or None)
    if path is None:
        return ""
    try:
        land, box = _inset_land(str(path))
    except (OSError, ValueError, KeyError, IndexError):
        return ""
    whole = _Frame(*box, INSET_WIDTH)
    bx0, by1 = whole.px(frame.x0, frame.y0)
    bx1, by0 = whole.px(frame.x1, frame.y1)
    left = frame.width - INSET_WIDTH - 6
    return (
        f'<g class="inset" transform="translate({left},6)"><rect class="sea" '
        f'width="{INSET_WIDTH}" height="{whole.height}"/><path class="land" d="{land}"/>'
        f'<rect class="box" x="{float(bx0):.0f}" y="{float(by0):.0f}" '
        f'width="{max(float(bx1 - bx0), 2):.0f}" height="{max(float(by1 - by0), 2):.0f}"/></g>'
    )


def _frame_around(points: Iterable[tuple[float, float]]) -> _Frame:
    xs, ys = zip(*points, strict=True)
    half_h = max((max(ys) - min(ys)) / 2 + PAD_KM, MIN_SPAN_KM / 2)
    half_w = max((max(xs) - min(xs)) / 2 + PAD_KM, MIN_SPAN_KM / 2)
    half_w = max(half_w, half_h * 1.3)  # a landscape frame
    half_h = max(half_h, half_w / 1.6)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return _Frame(cx - half_w, cy - half_h, cx + half_w, cy + half_h, WIDTH)


def svg_map(
    gazetteer: Gazetteer,
    markers: list[Marker],
    title: str,
    *,
    circle: Circle | None = None,
    kommune_code: str | None = None,
    own_name: str = "barnets kommune",
) -> str:
    """A figure: the SVG map of the markers' surroundings with the kommune boundaries (the
    child's kommune `kommune_code` shaded; `own_name` names it in the legend), an optional
    radius `circle`, an inset of Denmark and a legend in words. Empty without markers."""
    if not markers:
        return ""
    points = [tuple(float(v) for v in to_km(m.lat, m.lon)) for m in markers]
    if circle is not None and circle.radius_km <= CIRCLE_FRAME_KM:
        # A local area this small is shown whole; a wider limit would shrink the markers
        # to a cluster, so it is drawn where it crosses the markers' frame.
        cx, cy = (float(v) for v in to_km(circle.lat, circle.lon))
        r = circle.radius_km
        points += [(cx - r, cy - r), (cx + r, cy + r)]
    frame = _frame_around(points)  # type: ignore[arg-type]
    own = {kommune_code} if kommune_code else set()
    outlines = _outlines(gazetteer, 1 / frame.scale)
    parts = [
        f'<svg class="map" viewBox="0 0 {frame.width} {frame.height}" width="{frame.width}" '
        f'height="{frame.height}" role="img" aria-labelledby="map-title map-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="map-title">{escape(title)}</title>',
        f'<desc id="map-desc">{escape(_description(markers, circle))}</desc>',
        f'<rect width="{frame.width}" height="{frame.height}" class="sea"/>',
    ]
    if outlines is not None:
        parts.append(
            f'<g class="kommuner">{_kommune_paths(outlines, frame, own, 0, gazetteer)}</g>'
        )
    else:
        parts.append(_postcode_dots(gazetteer, frame))
    if circle is not None:
        px, py = frame.px(*to_km(circle.lat, circle.lon))
        parts.append(
            f'<circle class="local" cx="{float(px):.1f}" cy="{float(py):.1f}" '
            f'r="{circle.radius_km * frame.scale:.1f}"><title>{escape(circle.label)}</title>'
            "</circle>"
        )
    parts.append(_scale_bar(frame))
    parts.append(_inset(gazetteer, frame))
    # The proposals first, the child's own places on top: they are what the rest relates to.
    placed = list(zip(markers, points[: len(markers)], strict=True))
    for m, (x, y) in sorted(placed, key=lambda item: not item[0].css.startswith("tier")):
        px, py = frame.px(x, y)
        parts.append(_marker_svg(m, float(px), float(py)))
    parts.append("</svg>")
    legend = _legend(markers, circle, outlines is not None, own_name)
    return f'<figure class="map-figure">{"".join(parts)}<figcaption>{legend}</figcaption></figure>'


def denmark_map(
    gazetteer: Gazetteer, markers: list[Marker], title: str, kommuner: Iterable[str] = ()
) -> str:
    """All Denmark with its kommuner (`kommuner` shaded) and the markers; empty without the
    boundary file."""
    coarse = _outlines(gazetteer, 2.0)
    if coarse is None:
        return ""
    x0, y0, x1, y1 = coarse.box
    frame = _Frame(x0 - 5, y0 - 5, x1 + 5, y1 + 5, WIDTH)
    own = set(kommuner)
    parts = [
        f'<svg class="map" viewBox="0 0 {frame.width} {frame.height}" width="{frame.width}" '
        f'height="{frame.height}" role="img" aria-labelledby="dk-title" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="dk-title">{escape(title)}</title>',
        f'<rect width="{frame.width}" height="{frame.height}" class="sea"/>',
        f'<g class="kommuner">{_kommune_paths(coarse, frame, own, 0, gazetteer)}</g>',
        _scale_bar(frame),
    ]
    for m in markers:
        px, py = frame.px(*to_km(m.lat, m.lon))
        parts.append(_marker_svg(m, float(px), float(py)))
    parts.append("</svg>")
    return "".join(parts)


def _description(markers: Sequence[Marker], circle: Circle | None) -> str:
    places = [m.label for m in markers if not m.css.startswith("tier")]
    proposals = sum(1 for m in markers if m.css.startswith("tier"))
    text = ", ".join(places) + (f" og {proposals} forslag" if proposals else "")
    if circle is not None:
        text += f"; {circle.label}"
    return f"Kortet viser {text}. Forslagene står også i tabellen med samme numre."


def _scale_bar(frame: _Frame) -> str:
    span = frame.x1 - frame.x0
    bar_km = 10 if span < 80 else 50 if span < 400 else 100
    y = frame.height - 12
    return (
        f'<g class="scale"><line x1="10" y1="{y}" x2="{10 + bar_km * frame.scale:.1f}" '
        f'y2="{y}"/><text x="10" y="{y - 4}">{bar_km} km</text></g>'
    )


def _postcode_dots(gazetteer: Gazetteer, frame: _Frame) -> str:
    px, py = frame.px(*to_km(gazetteer.postcodes.lat, gazetteer.postcodes.lon))
    px, py = np.asarray(px), np.asarray(py)
    inside = (px >= 0) & (px <= frame.width) & (py >= 0) & (py <= frame.height)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2"/>'
        for x, y in zip(px[inside], py[inside], strict=True)
    )
    return f'<g class="land">{dots}</g>'
