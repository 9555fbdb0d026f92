"""The web interface, server side: sign-in and sign-out, cookie flags, CSRF, role and
kommune rules on pages, reserving from a child's page, the capacity board and batches."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import FamilyRow, Reservation
from tests.api.conftest import Env


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> TestClient:
    form = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    done = client.post(
        "/ui/login",
        data={"api_key": key, "login_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return client


def fresh_client(env: Env) -> TestClient:
    return TestClient(env.client.app)


def holds(env: Env) -> int:
    with sessionmaker(env.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(Reservation)) or 0)


def test_sign_in_sets_a_strict_httponly_session_cookie(env: Env) -> None:
    client = fresh_client(env)
    form = client.get("/ui/login")
    assert form.status_code == 200 and 'lang="da"' in form.text
    assert "httponly" in form.headers["set-cookie"].lower()
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    done = client.post(
        "/ui/login",
        data={"api_key": env.keys["coordinator"], "login_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/ui/children"
    cookie = next(
        c for c in done.headers.get_list("set-cookie") if c.startswith("placement_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ui"} <= flags
    page = client.get("/ui/children")
    assert page.status_code == 200 and "Børn i dine kommuner" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_bad_key_or_a_forged_sign_in_is_refused(env: Env) -> None:
    client = fresh_client(env)
    form = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    bad = client.post("/ui/login", data={"api_key": "pk_nope", "login_token": token.group(1)})
    assert bad.status_code == 401 and "Nøglen er ikke gyldig" in bad.text
    forged = fresh_client(env).post(
        "/ui/login", data={"api_key": env.keys["coordinator"], "login_token": "x"}
    )
    assert forged.status_code == 403
    assert "placement_session" not in forged.headers.get("set-cookie", "")


def test_pages_need_a_session(env: Env) -> None:
    client = fresh_client(env)
    for path in (
        "/ui/children",
        "/ui/capacity",
        "/ui/batches",
        f"/ui/children/{env.child_in('751')}",
    ):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login", path


def test_forms_without_the_csrf_token_are_rejected_and_change_nothing(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator"])
    cid = env.child_in("751")
    page = client.get(f"/ui/children/{cid}")
    option = re.search(r'name="option_id" value="([^"]+)"', page.text)
    kind = re.search(r'name="kind" value="([^"]+)"', page.text)
    assert option and kind
    before = holds(env)
    for token in ("", "forged"):
        r = client.post(
            f"/ui/children/{cid}/reserve",
            data={"option_id": option.group(1), "kind": kind.group(1), "csrf_token": token},
        )
        assert r.status_code == 403 and "CSRF" in r.text
    assert holds(env) == before
    ok = client.post(
        f"/ui/children/{cid}/reserve",
        data={
            "option_id": option.group(1),
            "kind": kind.group(1),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and "held=" in ok.headers["location"]
    assert holds(env) == before + 1
    shown = client.get(ok.headers["location"])
    assert "er reserveret til" in shown.text


def test_sign_out_ends_the_session_on_the_server(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["consultant"])
    page = client.get("/ui/capacity")
    cookie = client.cookies.get("placement_session")
    assert cookie
    refused = client.post("/ui/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    out = client.post("/ui/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert (
        'placement_session=""' in out.headers["set-cookie"]
        or "Max-Age=0" in out.headers["set-cookie"]
    )
    # The old cookie, replayed, no longer opens a page.
    replay = fresh_client(env)
    replay.cookies.set("placement_session", cookie, path="/ui")
    assert replay.get("/ui/capacity", follow_redirects=False).status_code == 303


def test_pages_keep_the_role_and_kommune_rules(env: Env) -> None:
    cid = env.child_in("751")
    consultant = sign_in(fresh_client(env), env.keys["consultant"])
    assert consultant.get("/ui/children").status_code == 403
    assert consultant.get(f"/ui/children/{cid}").status_code == 403
    assert consultant.get("/ui/batches").status_code == 403
    other = sign_in(fresh_client(env), env.keys["coordinator_727"])
    r = other.get(f"/ui/children/{cid}")
    assert r.status_code == 404 and cid in r.text
    assert cid not in other.get("/ui/children").text
    assert other.get("/ui/capacity").status_code == 403
    planner = sign_in(fresh_client(env), env.keys["planner"])
    assert planner.get("/ui/children").status_code == 403
    fam = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    c727 = sign_in(fresh_client(env), env.keys["consultant_727"])
    page = c727.get("/ui/capacity")
    assert fam not in page.text
    r = c727.post(f"/ui/options/{fam}/confirm", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 404


def test_child_page_lists_proposals_in_tier_order_with_why_not_and_map(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator"])
    cid = env.child_in("751")
    page = client.get(f"/ui/children/{cid}").text
    tiers = [int(t) for t in re.findall(r'class="proposal" data-tier="(\d)"', page)]
    assert tiers and tiers == sorted(tiers)
    assert "Hvorfor ikke?" in page and "<svg" in page and "Barnets hjem" in page
    headings = re.findall(r'<h3 id="tier\d-h">(.*?)</h3>', page)
    assert [h.split(". ")[1] for h in headings][:2] == ["Netværkspleje", "Plejefamilie"]


def test_consultant_confirms_a_vacancy_and_edits_places(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["consultant"])
    fam = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    page = client.get("/ui/capacity", params={"kommune": "751"})
    assert page.status_code == 200 and fam in page.text
    done = client.post(f"/ui/options/{fam}/confirm", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and f"Vakance bekræftet for {fam}" in done.text
    with sessionmaker(env.engine)() as s:
        row = s.get_one(FamilyRow, fam)
        from datetime import date

        assert row.vacancy_confirmed == date.today()
    edited = client.post(
        f"/ui/options/{fam}/capacity",
        data={"places": "4", "paused": "true", "csrf_token": csrf_of(page.text)},
    )
    assert f"{fam} er opdateret" in edited.text
    with sessionmaker(env.engine)() as s:
        assert s.get_one(FamilyRow, fam).paused
    assert client.get("/ui/capacity", params={"kommune": "727"}).status_code == 404


def test_planner_starts_a_batch_and_reads_its_kpis(env: Env) -> None:
    import time

    client = sign_in(fresh_client(env), env.keys["planner"])
    page = client.get("/ui/batches")
    r = client.post(
        "/ui/batches",
        data={
            "kommune": "751",
            "solver": "greedy",
            "time_limit": "10",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    for _ in range(100):
        shown = client.get(url)
        if "Andel anbragt" in shown.text:
            break
        assert 'http-equiv="refresh"' in shown.text
        time.sleep(0.1)
    assert "Nøgletal" in shown.text and "Andel anbragt" in shown.text
    other = sign_in(fresh_client(env), env.keys["planner_727"])
    assert other.get(url).status_code == 404
