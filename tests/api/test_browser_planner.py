"""Planners' pages in a real browser (Playwright, Debian's Chromium): the what-if builder to
its report, a batch to its charts, and the key figures; screenshots in docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.conftest import Env
from tests.api.test_browser import CHROMIUM, browser, page_for, site  # noqa: F401
from tests.api.test_keyfigures import record

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DONE = "Status: færdig"


def shot(page: object, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_planner_builds_a_scenario_and_reads_its_report(
    env: Env,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    page = page_for(browser, site, env.keys["planner"])
    page.goto("/ui/whatif")
    page.get_by_label("Navn", exact=True).fill("fem-forstaerkede")
    page.get_by_label("Beskrivelse", exact=True).fill("Fem forstærkede plejefamilier i Aarhus")
    page.get_by_label("Antal familier").fill("5")
    page.get_by_label("Niveau").select_option("forstaerket")
    page.get_by_label("Pladser pr. familie").fill("2")
    page.get_by_label("Kommuner (koder, adskilt med komma)").fill("751")
    page.get_by_label("Nærmiljø: højst km til plejefamilie").fill("60")
    page.get_by_label("Årssimulering: måneder (tom: ingen)").fill("3")
    page.get_by_label("Budget pr. måned (kr.)").fill("4000000")
    shot(page, "ui-whatif")
    page.get_by_role("button", name="Kør scenariet", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/whatif/w[0-9a-f]{32}$"), timeout=60_000)
    page.get_by_text(DONE).wait_for(timeout=240_000)
    assert page.get_by_role("heading", name="Hvad nu hvis: fem-forstaerkede").is_visible()
    assert page.locator("svg.chart").count() >= 6
    assert page.get_by_role("heading", name="Årssimulering, måned for måned").is_visible()
    assert page.get_by_role("link", name="kpis.csv").is_visible()
    shot(page, "ui-whatif-report")


def test_planner_starts_a_batch_and_sees_charts_and_cost(
    env: Env,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    page = page_for(browser, site, env.keys["planner"])
    page.goto("/ui/batches")
    page.get_by_label("Kommune").select_option("751")
    page.get_by_role("button", name="Start kørsel").click()
    page.wait_for_url(re.compile(r"/ui/batches/[0-9a-f-]{36}$"), timeout=60_000)
    page.get_by_role("heading", name="Udgifter").wait_for(timeout=240_000)
    assert page.locator("svg.chart").count() >= 3
    assert page.get_by_text("Udgift pr. anbragt barn pr. år").is_visible()
    shot(page, "ui-batch")


def test_planner_reads_the_key_figures(
    env: Env,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    record(env)
    page = page_for(browser, site, env.keys["planner"])
    page.goto("/ui/keyfigures")
    page.get_by_label("Fra").fill("2020-01-01")
    page.get_by_label("Til").fill("2020-12-31")
    page.get_by_role("button", name="Vis").click()
    page.wait_for_url(re.compile(r"from=2020-01-01"))
    assert page.get_by_role("heading", name="Nøgletal for anbringelser").is_visible()
    assert page.locator("svg.chart").count() >= 4
    assert page.get_by_role("columnheader", name="Familiebaseret andel").is_visible()
    shot(page, "ui-keyfigures")
