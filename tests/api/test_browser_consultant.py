"""The consultant's workflow in a real browser (Playwright with Debian's Chromium): a new
foster family approved through /ui/families/new, which a coordinator then finds among a
child's proposals and on the map. Screenshots go to docs/screenshots/ (the README shows
them): ui-families-new.png, ui-families-new-invalid.png, ui-family.png, ui-capacity.png,
ui-map.png, ui-capacity-320.png."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Env
from tests.api.test_browser import CHROMIUM, page_for, site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian package chromium)"
    ),
]
playwright_sync = pytest.importorskip("playwright.sync_api")
__all__ = ["site"]
SHOTS = Path(os.environ.get("PLACEMENT_SCREENSHOTS", "docs/screenshots"))


@pytest.fixture(scope="module")
def browser() -> Any:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def shot(target: Any, name: str, full: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if full:
        target.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    else:
        target.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_family_approved_in_the_browser_appears_in_a_childs_proposals(
    env: Env, site: str, browser: Any
) -> None:
    child = next(
        c
        for c in env.dataset.children
        if c.kommune_code == "751" and not c.sibling_group and c.support_level <= 3
    )
    page = page_for(browser, site, env.keys["consultant"])
    page.get_by_role("link", name="Godkend ny plejefamilie").first.click()
    page.wait_for_url("**/ui/families/new")
    page.get_by_label("Familiens id").fill("browserfam")
    page.get_by_label("Niveau").select_option("specialiseret")
    # The family lives where the child does (a point, written with a decimal comma).
    page.get_by_label("Postnummer").fill("")
    page.get_by_label("Breddegrad").fill(f"{child.home.lat:.5f}".replace(".", ","))
    page.get_by_label("Længdegrad").fill(f"{child.home.lon:.5f}".replace(".", ","))
    page.get_by_label("Godkendte pladser").fill("abc")
    page.get_by_label("Højeste alder (år)").fill("22")
    for need in ("tilknytning", "traumer", "ADHD", "autisme", "udviklingshæmning"):
        page.get_by_label(need, exact=True).check()
    for need in ("fysisk funktionsnedsættelse", "psykiske vanskeligheder", "misbrug"):
        page.get_by_label(need, exact=True).check()
    for need in ("kriminalitet", "medicinsk pleje"):
        page.get_by_label(need, exact=True).check()
    page.get_by_label("Tager akutte anbringelser").check()
    page.get_by_label(re.compile("Vakancen er bekræftet i dag")).check()
    shot(page, "ui-families-new")
    page.get_by_role("button", name="Godkend familien").click()
    # The invalid number comes back beside its field, with a summary that links to it.
    alert = page.get_by_role("alert")
    assert "Godkendte pladser: skal være et helt tal." in alert.inner_text()
    places = page.get_by_label("Godkendte pladser")
    assert places.get_attribute("aria-invalid") == "true"
    assert places.input_value() == "abc"
    assert page.get_by_label("Familiens id").input_value() == "browserfam"
    shot(page, "ui-families-new-invalid")
    alert.get_by_role("link").first.click()
    places.fill("2")
    page.get_by_role("button", name="Godkend familien").click()
    page.wait_for_url("**/ui/families/browserfam?message=*")
    assert "er godkendt og kan nu foreslås" in page.get_by_role("status").inner_text()
    shot(page, "ui-family")
    api = env.client.get("/v1/families/browserfam", headers=env.auth("consultant")).json()
    assert api["places"] == 2 and api["level"] == "specialiseret"
    page.goto("/ui/capacity")
    row = page.locator('tr[data-option="browserfam"]')
    assert "plejefamilie, specialiseret" in row.inner_text()
    assert row.locator("td.days").inner_text().strip() == "0"
    shot(page, "ui-capacity")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/ui/capacity")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    shot(page, "ui-capacity-320", full=False)

    coordinator = page_for(browser, site, env.keys["coordinator"])
    coordinator.goto(f"/ui/children/{child.child_id}")
    proposal = coordinator.locator('tr.proposal[data-option="browserfam"]')
    assert proposal.count() == 1, "the new family is not among the child's proposals"
    rank = proposal.locator("td").first.inner_text().strip()
    figure = coordinator.locator("figure.map-figure")
    marker = figure.locator(f"g.marker.tier2:has(text:text-is('{rank}'))")
    assert marker.count() >= 1, f"no marker {rank} on the map"
    assert "browserfam" in " ".join(marker.locator("title").all_text_contents())
    assert figure.locator("path.kommune.own").count() >= 1
    assert "Kommunegrænser" in figure.locator(".map-legend").inner_text()
    figure.scroll_into_view_if_needed()
    shot(figure, "ui-map", full=False)
