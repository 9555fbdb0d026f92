"""Planners' pages over real HTTP (uvicorn on loopback, a planner's key): the batch page with
Danish KPIs, charts, cost and the greedy comparison; what-if from scenario text and from the
builder form; key figures."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api.cli import app
from benchmarks.server import free_port
from models.dataset import Dataset
from tests.api.conftest import Env
from tests.api.test_whatif_cli import SIMULATED, write_plan

RAW_KEYS = re.compile(
    r"share_by_kind|placed_share|share_by_foster_level|km_to_school|free_places_left|"
    r"institution_daily_cost_dkk|sibling_groups\.|TAKEN_BY_OTHERS|NO_CAPACITY|_dkk\b"
)
UNFORMATTED_SHARE = re.compile(r"(?<![\d.,])0\.\d{2,}(?![\d])")


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
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def signed_in(site: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=site, timeout=60)
    form = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    done = client.post("/ui/login", data={"api_key": key, "login_token": token.group(1)})
    assert done.status_code == 303, done.text
    # The sign-in's session row is committed as its answer is sent: wait until it is seen.
    for _ in range(100):
        if client.get("/ui/batches").status_code == 200:
            break
        time.sleep(0.05)
    return client


def follow_to_end(client: httpx.Client, url: str, seconds: float = 240) -> str:
    """The page once it no longer refreshes itself (the job and its extras are done)."""
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(url)
        assert page.status_code == 200, page.text[:500]
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.3)


def visible_text(page: str) -> str:
    """The page without its tags' attributes (an id in a link is not shown text)."""
    return re.sub(r"<[^>]+>", " ", page)


def assert_no_raw(page: str) -> None:
    text = visible_text(page)
    assert not RAW_KEYS.search(text), RAW_KEYS.search(text)
    # Not even in an attribute or a chart's coordinates: 0.7838 is nowhere in the page.
    assert not UNFORMATTED_SHARE.search(page), UNFORMATTED_SHARE.search(page)


def start_batch(client: httpx.Client, solver: str = "auto") -> str:
    page = client.get("/ui/batches")
    started = client.post(
        "/ui/batches",
        data={
            "kommune": "751",
            "solver": solver,
            "time_limit": "20",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert started.status_code == 303, started.text
    return started.headers["location"]


def test_batch_page_shows_danish_kpis_charts_cost_and_the_greedy_comparison(
    env: Env, site: str
) -> None:
    client = signed_in(site, env.keys["planner"])
    url = start_batch(client)
    page = follow_to_end(client, url)
    assert "færdig" in page
    assert page.count("<svg") >= 3
    assert "Optimum mod én ad gangen" in page
    assert re.search(r"\d{1,3}(\.\d{3})* kr\.", page), "no cost in kroner"
    assert "Udgift pr. anbragt barn pr. år" in page
    assert re.search(r"\d+,\d %", page), "no share formatted as a Danish percentage"
    assert re.search(r"\d+,\d km", page), "no distance in km"
    assert "Andel i plejefamilie" in page
    assert "Fordeling" in page and "Børn uden plads" in page
    # The assignment table names tiers in Danish, and every child the batch placed is listed.
    assert re.search(r"<td>(Netværkspleje|Plejefamilie|Kombinationsanbringelse|Institution)", page)
    assert_no_raw(page)
    other = signed_in(site, env.keys["planner_727"])
    assert other.get(url).status_code == 404


SCENARIO = """
as_of = "2026-11-01"
seed = 2

[[scenario]]
name = "ti-nye-familier"
description = "Ti forstærkede plejefamilier"
  [[scenario.change]]
  type = "add_families"
  count = 10
  level = "forstaerket"
  places = 2
  kommuner = ["751"]

[[scenario]]
name = "smal-radius"
policy = { limits_km = { foster = 10.0 } }
"""


def post_whatif(client: httpx.Client, data: dict[str, str]) -> httpx.Response:
    page = client.get("/ui/whatif")
    assert page.status_code == 200
    return client.post("/ui/whatif", data=data | {"csrf_token": csrf_of(page.text)})


def test_whatif_from_scenario_text_runs_in_the_background_to_a_danish_report(
    env: Env, site: str
) -> None:
    client = signed_in(site, env.keys["planner"])
    started = post_whatif(client, {"scenario": SCENARIO})
    assert started.status_code == 303, started.text[:2000]
    url = started.headers["location"]
    assert re.fullmatch(r"/ui/whatif/w[0-9a-f]{32}", url)
    page = follow_to_end(client, url)
    assert "færdig" in page, page[:3000]
    assert "ti-nye-familier" in page and "smal-radius" in page and "Udgangspunkt" in page
    assert page.count("<svg") >= 4
    assert "Nøgletal (Δ: forskel fra udgangspunktet)" in page
    assert "ti-nye-familier Δ" in page
    assert re.search(r"\d{1,3}(\.\d{3})* kr\.", page)
    assert_no_raw(page)
    # Downloads: the report (Danish, inline SVG), kpis.csv and the assignments.
    report = client.get(f"{url}/report.html")
    assert report.status_code == 200 and "<svg" in report.text and "lang='da'" in report.text
    assert "attachment" in report.headers["content-disposition"]
    kpis = client.get(f"{url}/kpis.csv").text.splitlines()
    assert kpis[0].startswith("kpi,baseline,ti-nye-familier,smal-radius")
    placed = next(line for line in kpis if line.startswith("placed,")).split(",")
    # Ten more reinforced families never place fewer children than the baseline.
    assert int(placed[2]) >= int(placed[1])
    rows = client.get(f"{url}/assignments.csv").text.splitlines()
    assert rows[0].startswith("scenario,child_id,option_id")
    assert sum(1 for r in rows[1:] if r.startswith("baseline,")) == int(placed[1])
    # Another kommune's planner sees no such run.
    other = signed_in(site, env.keys["planner_727"])
    assert other.get(url).status_code == 404
    assert other.get(f"{url}/kpis.csv").status_code == 404
    # The saved scenario runs again, and the two runs compare side by side.
    again = client.post(f"{url}/rerun", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 303
    second = again.headers["location"]
    assert second != url
    follow_to_end(client, second)
    compared = client.get(
        "/ui/whatif/compare", params={"a": url.rsplit("/", 1)[1], "b": second.rsplit("/", 1)[1]}
    )
    assert compared.status_code == 200 and "<svg" in compared.text
    assert "ti-nye-familier (" in compared.text  # the second run's scenario, marked by its run
    listing = client.get("/ui/whatif").text
    assert listing.count("ti-nye-familier, smal-radius") >= 2


def test_whatif_refuses_bad_text_and_other_kommuner_in_danish(env: Env, site: str) -> None:
    client = signed_in(site, env.keys["planner"])
    bad = post_whatif(
        client,
        {
            "scenario": "[[scenario]]\nname = 'x'\n  [[scenario.change]]\n"
            "  type = 'add_families'\n  level = 'gold'\n"
        },
    )
    assert bad.status_code == 422
    shown = html.unescape(bad.text)
    assert "Scenariet kan ikke køres" in shown and "field 'level': got 'gold'" in shown
    assert "Traceback" not in bad.text
    toml = post_whatif(client, {"scenario": "name = "})
    assert toml.status_code == 422 and "not valid TOML" in toml.text
    foreign = post_whatif(client, {"scenario": '[cohort]\nkommuner = ["727"]\n'})
    assert foreign.status_code == 422 and "727" in foreign.text
    missing = post_whatif(client, {"name": "", "add_count": "3"})
    assert missing.status_code == 422 and "Navn: skal udfyldes" in missing.text
    empty = post_whatif(client, {"scenario": "  ", "kind": "text"})
    assert empty.status_code == 422 and "Scenariefil (TOML): skal udfyldes." in empty.text
    no_csrf = client.post("/ui/whatif", data={"scenario": SCENARIO})
    assert no_csrf.status_code == 403


def test_whatif_builder_form_makes_a_scenario_with_a_year_simulation(env: Env, site: str) -> None:
    client = signed_in(site, env.keys["planner"])
    family = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    started = post_whatif(
        client,
        {
            "name": "pause-og-nye",
            "description": "To nye almene familier, én på pause",
            "add_count": "2",
            "add_level": "almen",
            "add_places": "1",
            "add_kommuner": "751",
            "pause_ids": family,
            "foster_km": "40",
            "cohort_kommune": "751",
            "solver": "greedy",
            "months": "2",
            "budget": "5000000",
        },
    )
    assert started.status_code == 303, started.text[:2000]
    page = follow_to_end(client, started.headers["location"])
    assert "færdig" in page, page[:3000]
    assert "pause-og-nye" in page and "To nye almene familier" in page
    assert "Årssimulering, måned for måned" in page
    assert "Udgift pr. måned mod budget" in page and "Budget (5.000.000 kr.)" in page
    assert "scenariefilen" in page
    scenario = client.get(started.headers["location"] + "/scenario.toml").text
    assert f'ids = ["{family}"]' in scenario and "limits_km = { foster = 40.0 }" in scenario
    assert_no_raw(page)


def test_whatif_cli_writes_its_report_in_danish_by_default(
    tmp_path: Path, small_dir: Path, small_dataset: Dataset
) -> None:
    plan = write_plan(tmp_path, small_dir, small_dataset, SIMULATED)
    out = tmp_path / "report"
    args = ["whatif", str(plan), "--out", str(out), "--workers", "1", "--budget", "2500000"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    economy = {s["name"]: s["economy"] for s in payload["scenarios"]}
    assert economy["baseline"]["yearly"] == economy["baseline"]["monthly"] * 12
    assert len(economy["recruit"]["monthly_costs"]) == 3
    page = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "<html lang='da'>" in page and page.count("<svg") >= 8
    assert "Udgift pr. måned mod budget" in page and "Budget (2.500.000 kr.)" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "# Hvad nu hvis: plan.toml" in md and "| Nøgletal | Udgangspunkt | recruit |" in md
    assert "Årssimulering, måned for måned" in md and "Udgift pr. år" in md
    assert_no_raw(md)
    assert (out / "kpis.csv").read_text(encoding="utf-8").startswith("kpi,baseline,recruit")
    english = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "en"), "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert (
        "## KPIs (Δ: difference from the baseline)" in (tmp_path / "en" / "report.md").read_text()
    )
    wrong = CliRunner().invoke(app, [*args, "--lang", "fr"])
    assert wrong.exit_code == 2 and "--lang" in wrong.output


def test_danish_formats_and_kpi_names() -> None:
    from api.reports.danish import fmt_date, fmt_km, fmt_kr, fmt_pct, kpi_delta, kpi_name

    assert fmt_pct(0.7838) == "78,4 %" and fmt_km(12.44) == "12,4 km"
    assert fmt_kr(1234567.4) == "1.234.567 kr." and fmt_kr(-1500) == "-1.500 kr."
    assert fmt_date("2026-11-05") == "05-11-2026"
    assert kpi_name("share_by_kind.foster") == "Andel i plejefamilie"
    assert kpi_name("free_places_left.foster.forstaerket") == (
        "Ledige pladser efter matchning: plejefamilie, forstærket"
    )
    assert kpi_name("some_new_key") is None  # left out of pages rather than shown raw
    assert kpi_delta("placed_share", 0.8, 0.75) == "+5,0 %-point"
    assert kpi_delta("km_to_school.mean", 9.0, 10.5) == "-1,5 km"


def test_batch_view_explains_who_took_a_first_choice() -> None:
    from api.web.batchview import batch_view

    result = {
        "objective": {"placed": 1, "tier1": 0, "tier2": 1, "tier3": 0},
        "kpis": {"children": 2, "placed": 1, "placed_share": 0.5, "share_by_kind": {"foster": 1.0}},
        "assignments": [
            {
                "child_id": "c1",
                "option_id": "f2",
                "tier": 2,
                "km_to_school": 3.04,
                "km_to_home": None,
            }
        ],
        "unassigned": [{"child_id": "c2", "reasons": {"TOO_FAR": 4, "NO_CAPACITY": 1}}],
        "explanations": [
            {
                "child_id": "c1",
                "first_choice": {"option_id": "f1"},
                "held_by": ["c9"],
                "feasible": True,
            }
        ],
    }
    view = batch_view(result)
    assert view["assignments"][0] | {} == {
        "child_id": "c1",
        "option_id": "f2",
        "tier": "Plejefamilie",
        "km_to_school": "3,0 km",
        "km_to_home": "–",
        "why": "Førstevalget f1 gik til c9",
    }
    assert view["unplaced"][0]["reason"] == "for langt fra barnets hjem"
    assert "ingen ledig plads (1)" in view["unplaced"][0]["others"]
    assert view["placed_share"] == "50,0 %"
    assert all("<svg" in str(c) for c in view["charts"])
