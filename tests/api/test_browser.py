"""The web interface in a real browser: Playwright driving Debian's Chromium
(/usr/bin/chromium; Playwright never downloads its own) against the app served by uvicorn on
loopback. Screenshots of the main pages are saved under $PLACEMENT_ARTIFACTS (default
var/artifacts/screenshots)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from benchmarks.server import free_port
from tests.api.conftest import Env

CHROMIUM = Path(os.environ.get("PLACEMENT_CHROMIUM", "/usr/bin/chromium"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian package chromium)"
    ),
]
playwright_sync = pytest.importorskip("playwright.sync_api")
SHOTS = Path(os.environ.get("PLACEMENT_ARTIFACTS", "var/artifacts")) / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def site(env: Env) -> Iterator[str]:
    """The test's app on a real HTTP server on loopback."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            env.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def page_for(browser: object, site: str, key: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    # Signed in once more if the first redirect is not seen: on two loaded cores under xdist
    # a navigation has been missed once in many runs; the tests are about the pages.
    for attempt in range(2):
        page.goto("/ui/login")
        page.get_by_label("API-nøgle").fill(key)
        page.get_by_role("button", name="Log ind").click()
        try:
            page.wait_for_url(re.compile(r"/ui/(children|capacity|batches|admin)$"), timeout=45_000)
            return page
        except playwright_sync.TimeoutError:
            if attempt:
                raise
    return page


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_coordinator_opens_a_child_sees_tiers_in_order_and_reserves(
    env: Env, site: str, browser: object
) -> None:
    page = page_for(browser, site, env.keys["coordinator"])
    assert page.url.endswith("/ui/children")
    shot(page, "children")
    cid = env.child_in("751")
    page.get_by_role("link", name=cid, exact=True).click()
    page.wait_for_url(f"**/ui/children/{cid}")
    assert page.get_by_role("heading", name=f"Barn {cid}").is_visible()
    tiers = [
        int(t)
        for t in page.locator("tr.proposal").evaluate_all("rows => rows.map(r => r.dataset.tier)")
    ]
    assert tiers and tiers == sorted(tiers)
    assert page.locator("svg.map").is_visible()
    page.get_by_text("Hvorfor ikke?").scroll_into_view_if_needed()
    shot(page, "child")
    first = page.locator("tr.proposal").first
    option = first.get_attribute("data-option")
    first.get_by_role("button", name=f"Reservér {option}").click()
    page.wait_for_url(re.compile("held="))
    status = page.get_by_role("status")
    assert f"Pladsen hos {option} er reserveret til" in status.inner_text()
    assert page.get_by_role("heading", name="Reservationer").is_visible()
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url("**/ui/login")
    page.goto(f"/ui/children/{cid}")
    assert page.url.endswith("/ui/login")


def test_a_second_session_sees_that_the_last_place_is_taken(
    env: Env, site: str, browser: object
) -> None:
    cid = env.add_last_place("last1")[0]
    first = page_for(browser, site, env.keys["coordinator"])
    second = page_for(browser, site, env.keys["coordinator"])
    for page in (first, second):
        page.goto(f"/ui/children/{cid}")
    first.get_by_role("button", name="Reservér last1").click()
    first.wait_for_url(re.compile("held="))
    assert "Pladsen hos last1 er reserveret til" in first.get_by_role("status").inner_text()
    second.get_by_role("button", name="Reservér last1").click()
    second.wait_for_url("**/reserve")
    alert = second.get_by_role("alert").inner_text()
    assert "allerede taget" in alert and "last1" in alert
    shot(second, "conflict")


def test_consultant_confirms_a_stale_vacancy_in_one_click(
    env: Env, site: str, browser: object
) -> None:
    page = page_for(browser, site, env.keys["consultant"])
    assert page.url.endswith("/ui/capacity")
    stale = page.locator("tr.stale").first
    option = stale.get_attribute("data-option")
    assert option
    shot(page, "capacity")
    stale.get_by_role("button", name=f"Bekræft vakance for {option}").click()
    page.wait_for_url(re.compile("message="))
    assert f"Vakance bekræftet for {option}" in page.get_by_role("status").inner_text()
    row = page.locator(f'tr[data-option="{option}"]')
    assert "stale" not in (row.get_attribute("class") or "")
    assert row.locator("td.days").inner_text().strip() == "0"


def test_planner_starts_a_batch_and_watches_it_finish(env: Env, site: str, browser: object) -> None:
    page = page_for(browser, site, env.keys["planner"])
    page.get_by_label("Kommune").select_option("751")
    page.get_by_label("Løser").select_option("greedy")
    page.get_by_role("button", name="Start kørsel").click()
    page.wait_for_url(re.compile(r"/ui/batches/[0-9a-f-]+$"))
    page.get_by_role("heading", name="Nøgletal").wait_for(timeout=30_000)
    assert re.search(r"Status: færdig", page.get_by_role("status").inner_text())
    shot(page, "batch")


def test_pages_outside_the_role_or_kommune_are_refused(
    env: Env, site: str, browser: object
) -> None:
    consultant = page_for(browser, site, env.keys["consultant"])
    consultant.goto("/ui/children")
    assert consultant.get_by_role("heading", name="Ingen adgang").is_visible()
    other = page_for(browser, site, env.keys["coordinator_727"])
    cid = env.child_in("751")
    response = other.goto(f"/ui/children/{cid}")
    assert response is not None and response.status == 404
    assert other.get_by_role("heading", name="Ikke fundet").is_visible()
    shot(other, "refused")
