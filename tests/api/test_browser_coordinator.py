"""The coordinator's day in a real browser (Playwright, Debian's Chromium, uvicorn on
loopback): a new child, a network person, the proposals, a hold confirmed and the placement
ended; a follow-up recorded from the worklist; the recommendation page and its PDF. Each
page's screenshot is kept in docs/screenshots for the README."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.db.orm import PlacementRow
from api.services.runtime import Service
from tests.api.conftest import Env
from tests.api.test_browser import CHROMIUM, browser, page_for, site  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian package chromium)"
    ),
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def keep(page: object, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_new_child_network_hold_confirm_end(env: Env, site: str, browser: object) -> None:  # noqa: F811
    page = page_for(browser, site, env.keys["coordinator"])
    page.goto("/ui/children/new")
    page.get_by_label("Barnets id").fill("b-ny-1")
    page.get_by_label("Alder (år)").fill("10")
    page.get_by_label("Støtteniveau").select_option("2")
    page.get_by_label("tilknytning").check()
    page.get_by_label("Hjemmets postnummer").fill("8000")
    page.get_by_label("Søg skole på navn eller nummer").fill("skole")
    page.get_by_role("button", name="Søg skole").click()
    page.wait_for_selector("input[type=radio][name=school_id]")
    page.locator("input[type=radio][name=school_id]").nth(1).check()
    page.get_by_label("Barnets egne synspunkter").fill("Vil gerne bo tæt på sin skole.")
    keep(page, "ui-children-new")
    page.get_by_role("button", name="Opret barn").click()
    page.wait_for_url("**/ui/children/b-ny-1?saved=created")
    assert "Barnet er oprettet." in page.get_by_role("status").inner_text()
    api = env.client.get("/v1/children/b-ny-1", headers=env.auth("coordinator")).json()
    assert api["needs"] == ["attachment"] and api["school_id"]

    page.get_by_role("link", name="Netværk").click()
    page.wait_for_url("**/network")
    page.get_by_label("Personens id").fill("b-ny-1-moster")
    page.get_by_label("Relation til barnet").select_option("aunt_uncle")
    page.get_by_label("Postnummer").fill("8210")
    page.get_by_label("Vurdering").select_option("approved")
    page.get_by_role("button", name="Gem person").click()
    page.wait_for_url(re.compile(r"saved="))
    assert "moster, faster, morbror eller farbror" in page.content()
    keep(page, "ui-network")

    page.goto("/ui/children/b-ny-1")
    first = page.locator("tr.proposal").first
    assert first.get_attribute("data-option") == "b-ny-1-moster"  # network care first
    keep(page, "ui-child")
    first.get_by_role("button", name="Reservér b-ny-1-moster").click()
    page.wait_for_url(re.compile("held="))
    hold = page.locator(".hold")
    assert re.search(r"reserveret til \d\d-\d\d-\d{4} kl\. \d\d:\d\d af ", hold.inner_text())
    keep(page, "ui-child-hold")
    page.get_by_role("button", name="Forlæng").click()
    page.wait_for_url(re.compile("done=extended"))
    page.get_by_role("button", name="Bekræft anbringelsen").click()
    page.wait_for_url(re.compile("done=confirmed"))
    assert page.get_by_role("heading", name="Anbringelse", exact=True).is_visible()
    keep(page, "ui-child-placed")
    page.get_by_label("Grund til afslutning").select_option("home")
    page.get_by_role("button", name="Afslut").click()
    page.wait_for_url(re.compile("done=ended"))
    assert (
        "hjemgivelse"
        in page.get_by_role("heading", name="Tidligere anbringelser")
        .locator("xpath=..")
        .inner_text()
    )
    placements = env.client.get(
        "/v1/children/b-ny-1/placements", headers=env.auth("coordinator")
    ).json()
    assert [p["status"] for p in placements] == ["ended"]


def test_follow_up_from_the_worklist_and_the_recommendation(
    env: Env,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    cid = env.child_in("751")
    proposals = env.client.post(
        f"/v1/children/{cid}/proposals", json={"top": 1}, headers=env.auth("coordinator")
    ).json()["proposals"]
    held = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": proposals[0]["option_id"]},
        headers=env.auth("coordinator"),
    )
    assert held.status_code == 201, held.text
    confirmed = env.client.post(
        f"/v1/reservations/{held.json()['id']}/confirm", headers=env.auth("coordinator")
    )
    assert confirmed.status_code == 200, confirmed.text
    with sessionmaker(env.engine)() as s:  # placed 200 days ago: the follow-up is overdue
        row = s.scalars(select(PlacementRow).where(PlacementRow.child_id == cid)).one()
        row.start_date = date.today() - timedelta(days=200)
        Service.bump(s, "structure")
        s.commit()
    page = page_for(browser, site, env.keys["coordinator"])
    page.goto("/ui/review")
    overdue = page.locator(
        "section", has=page.get_by_role("heading", name=re.compile("overskredet"))
    )
    assert cid in overdue.inner_text()
    keep(page, "ui-review")
    overdue.get_by_role("link", name=f"Registrér opfølgning for {cid}").click()
    page.wait_for_url(f"**/ui/children/{cid}/follow-up")
    page.get_by_label("Holdt med").fill("barnet og plejefamilien")
    page.get_by_label("ja").check()
    page.get_by_label("Notat").fill("Barnet trives og går i skole.")
    keep(page, "ui-follow-up")
    page.get_by_role("button", name="Registrér opfølgning").click()
    page.wait_for_url(re.compile(r"/ui/review\?done="))
    assert f"Opfølgningen for barn {cid} er registreret." in page.get_by_role("status").inner_text()
    placed = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    assert placed.json()[-1]["last_follow_up"] == date.today().isoformat()

    page.goto(f"/ui/children/{cid}/recommendation")
    page.get_by_label("Formål med anbringelsen").fill("Tryg hverdag tæt på skole og familie.")
    page.locator("#duration").fill("12 måneder")
    page.get_by_role("button", name="Gem formål og varighed").click()
    page.wait_for_load_state()
    assert "Tryg hverdag tæt på skole og familie." in page.content()
    keep(page, "ui-recommendation")
    page.emulate_media(media="print")
    assert not page.locator("header").is_visible()  # the print styles leave the menu out
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent som PDF").click()
    saved = download.value.path()
    assert saved is not None and Path(saved).read_bytes().startswith(b"%PDF")


def test_the_coordinators_new_pages_pass_the_accessibility_checks(
    env: Env,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    """The network, follow-up, school search and recommendation pages under the project's own
    WCAG checks (labels, contrast, focus, landmarks, reflow at 320 px)."""
    from tests.api.test_accessibility import check_page

    cid = env.child_in("751")
    page = page_for(browser, site, env.keys["coordinator"])
    problems: list[str] = []
    for path in (
        f"/ui/children/{cid}/network",
        f"/ui/children/{cid}/follow-up",
        f"/ui/children/{cid}/recommendation",
        "/ui/schools?q=skole",
        "/ui/review",
    ):
        problems += check_page(page, path)
    assert not problems, "\n".join(problems)
