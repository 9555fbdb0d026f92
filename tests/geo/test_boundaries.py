"""Kommune boundaries for the offline map: Douglas-Peucker keeps every dropped point within
the tolerance, the DAGI file gives all 98 kommuner at every scale, simplified copies are kept
in memory, and the SVG map draws them (or postcode points when the file is absent)."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from api.web.mapview import Circle, Marker, denmark_map, local_circle, local_radius, svg_map
from geo.boundaries import (
    FILE,
    boundaries_path,
    douglas_peucker,
    load_outlines,
    to_km,
)
from geo.gazetteer import GEODATA_ENV, Gazetteer


def _distance_to_polyline(p: np.ndarray, line: np.ndarray) -> float:
    best = np.inf
    for a, b in itertools.pairwise(line):
        ab, ap = b - a, p - a
        t = 0.0 if not ab.any() else float(np.clip(ap @ ab / (ab @ ab), 0, 1))
        best = min(best, float(np.hypot(*(ap - t * ab))))
    return best


def test_douglas_peucker_keeps_the_ends_and_stays_within_the_tolerance() -> None:
    rng = np.random.default_rng(7)
    x = np.linspace(0, 50, 400)
    line = np.column_stack([x, np.sin(x / 3) * 4 + rng.normal(0, 0.2, x.size)])
    for tolerance in (0.1, 0.5, 2.0):
        kept = douglas_peucker(line, tolerance)
        assert (kept[0] == line[0]).all() and (kept[-1] == line[-1]).all()
        assert len(kept) < len(line)
        worst = max(_distance_to_polyline(p, kept) for p in line)
        assert worst <= tolerance + 1e-9, (tolerance, worst)
    # A straight line is two points; a short one is left as it is.
    straight = np.column_stack([np.arange(10.0), np.zeros(10)])
    assert len(douglas_peucker(straight, 0.01)) == 2
    assert len(douglas_peucker(straight[:2], 1.0)) == 2


def test_every_kommune_is_drawn_at_every_scale_and_coarser_is_smaller(
    gazetteer: Gazetteer,
) -> None:
    path = boundaries_path(gazetteer.source)
    assert path is not None and path.name == FILE
    sizes = []
    for tolerance in (0.1, 0.5, 2.0, 4.0):
        outlines = load_outlines(path, tolerance)
        codes = {k.kommune_code for k in outlines.kommuner}
        assert len(codes) == 98 and {"751", "727", "860", "167", "101", "400"} <= codes
        sizes.append(outlines.points)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < 2_000
    # Denmark, projected: about 450 km east-west (Bornholm included), 350 km north-south.
    x0, y0, x1, y1 = load_outlines(path, 1.0).box
    assert 400 < x1 - x0 < 480 and 320 < y1 - y0 < 380
    aarhus = next(k for k in load_outlines(path, 0.5).kommuner if k.kommune_code == "751")
    hx, hy = to_km(56.16, 10.2)  # Aarhus centre lies inside Aarhus's box
    assert aarhus.box[0] < hx < aarhus.box[2] and aarhus.box[1] < hy < aarhus.box[3]


def test_outlines_are_simplified_once_and_kept(gazetteer: Gazetteer) -> None:
    path = boundaries_path(gazetteer.source)
    assert path is not None
    first = load_outlines(path, 0.25)
    started = time.perf_counter()
    again = load_outlines(path, 0.25)
    assert again is first and time.perf_counter() - started < 0.05


def test_the_child_map_draws_kommuner_the_radius_and_a_legend(gazetteer: Gazetteer) -> None:
    markers = [
        Marker(56.16, 10.2, "Barnets hjem", "home", "H"),
        Marker(56.2, 10.1, "Barnets skole", "school", "S"),
        Marker(56.05, 10.3, "Forslag 1: plejefamilie f1", "tier2", "1"),
        Marker(55.95, 10.0, "Forslag 2: institution i1", "tier4", "2"),
    ]
    circle = Circle(56.16, 10.2, 25.0, "Nærmiljø: 25 km fra hjemmet")
    svg = svg_map(gazetteer, markers, "Kort over barn c1", circle=circle, kommune_code="751")
    assert len(svg) < 60_000, len(svg)
    assert '<path class="kommune own"' in svg and "<title>Aarhus Kommune</title>" in svg
    assert 'class="local"' in svg and "Nærmiljø: 25 km fra hjemmet" in svg
    assert re.search(r'role="img" aria-labelledby="map-title map-desc"', svg)
    assert '<desc id="map-desc">' in svg and "2 forslag" in svg
    # The legend says in words what each colour and shape means.
    legend = svg[svg.index('<ul class="map-legend">') :]
    for text in ("H: barnets hjem", "trin 2, plejefamilie", "trin 4, institution", "Stiplet"):
        assert text in legend, text
    assert "trin 1" not in legend  # only what the map shows
    # The inset shows all Denmark with the map's box.
    assert 'class="inset"' in svg and 'class="box"' in svg
    # Markers sit where they belong: the home inside the drawing.
    home = re.search(
        r'class="marker home"><title>[^<]*</title><rect class="shape" x="([\d.]+)"', svg
    )
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert home and view and 0 < float(home.group(1)) < int(view.group(1))


def test_the_whole_country_and_the_fallback_without_the_file(
    gazetteer: Gazetteer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = denmark_map(gazetteer, [], "Danmark", ["860"])
    assert whole.count('<path class="kommune') == 98 and len(whole) < 40_000
    assert "<title>Hjørring Kommune</title>" in whole
    monkeypatch.delenv(GEODATA_ENV, raising=False)
    bare = Gazetteer(gazetteer.postcodes.frame, source=str(tmp_path))
    assert boundaries_path(tmp_path) is None
    svg = svg_map(bare, [Marker(56.16, 10.2, "Barnets hjem", "home", "H")], "Kort")
    assert 'class="land"' in svg and "kommune" not in svg.split("<figcaption>")[0]
    assert denmark_map(bare, [], "Danmark") == ""


def test_the_local_radius_is_read_defensively() -> None:
    class WithLocal:
        local_km = 15.0
        limits_km: ClassVar = {"foster": 40.0}

    class LimitsOnly:
        limits_km: ClassVar = {"network": 100.0, "foster": 40.5}

    class Neither:
        pass

    class PerKind:
        local_km: ClassVar = {"network": 50.0, "foster": 20.0}

    assert local_radius(WithLocal()) == (15.0, "Nærmiljø: 15 km fra hjemmet")
    assert local_radius(LimitsOnly()) == (40.5, "Afstandsgrænse for plejefamilier: 40,5 km")
    assert local_radius(Neither()) is None
    assert local_radius(PerKind()) == (20.0, "Nærmiljø: 20 km fra hjemmet")
    circle = local_circle(56.0, 10.0, LimitsOnly())
    assert circle is not None and circle.radius_km == 40.5
