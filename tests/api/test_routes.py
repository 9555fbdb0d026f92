"""Every route through HTTP (TestClient against the app), with each error code."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import AuditEntry, CapacityPool
from api.http.app import create_app
from api.services.runtime import Service
from geo.gazetteer import Gazetteer
from matcher.policy import load_policy
from matcher.rank import Matcher
from matcher.review import add_months, review
from models.dataset import Dataset
from models.enums import NEEDS, Kind
from models.synthetic import SyntheticSpec, generate_dataset
from tests.api.conftest import Env, fresh_engine, load, make_keys

PROBLEM = "application/problem+json"


def new_child(child_id: str = "n1", kommune: str = "751", **kw: Any) -> dict[str, Any]:
    body = {
        "child_id": child_id,
        "kommune_code": kommune,
        "age": 9,
        "support_level": 1,
        "home_postcode": "8000",
        "needs": ["trauma"],
        "network": [
            {
                "person_id": f"{child_id}-p1",
                "relation": "grandparent",
                "postcode": "8200",
                "status": "approved",
            }
        ],
    }
    return body | kw


def new_family(family_id: str = "fx1", kommune: str = "751", **kw: Any) -> dict[str, Any]:
    body = {
        "family_id": family_id,
        "kommune_code": kommune,
        "postcode": "8000",
        "level": "forstaerket",
        "places": 2,
        "occupied": 0,
        "min_age": 0,
        "max_age": 17,
        "target_groups": ["trauma", "adhd"],
        "max_siblings": 2,
        "acute": True,
        "vacancy_confirmed": "2026-10-01",
    }
    return body | kw


def audit_count(env: Env, action: str, child_id: str) -> int:
    with sessionmaker(env.engine)() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.child_id == child_id)
            )
            or 0
        )


def test_healthz(env: Env) -> None:
    assert env.client.get("/healthz").json() == {"status": "ok"}


def test_401_without_or_with_a_bad_key(env: Env) -> None:
    cid = env.child_in("751")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = env.client.get(f"/v1/children/{cid}", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == 401


# ------------------------------------------------------------------------------ children


def test_child_create_read_update_list_and_audit(env: Env) -> None:
    c = env.client
    r = c.post("/v1/children", json=new_child(), headers=env.auth("coordinator"))
    assert r.status_code == 201, r.text
    assert r.json()["network"][0]["person_id"] == "n1-p1"
    assert (
        c.post("/v1/children", json=new_child(), headers=env.auth("coordinator")).status_code == 409
    )
    got = c.get("/v1/children/n1", headers=env.auth("coordinator")).json()
    assert got["home_postcode"] == "8000" and got["needs"] == ["trauma"]
    updated = c.put(
        "/v1/children/n1", json=new_child(age=10, acute=True), headers=env.auth("coordinator")
    )
    assert updated.status_code == 200 and updated.json()["age"] == 10
    listed = c.get("/v1/children", headers=env.auth("coordinator")).json()
    assert "n1" in {x["child_id"] for x in listed}
    assert all(x["kommune_code"] == "751" for x in listed)
    assert c.get("/v1/children?kommune=727", headers=env.auth("coordinator")).json() == []
    assert audit_count(env, "child.create", "n1") == 1
    assert audit_count(env, "child.read", "n1") == 1
    assert audit_count(env, "child.update", "n1") == 1
    assert audit_count(env, "child.list", "n1") == 1


def test_child_validation_names_the_json_path(env: Env) -> None:
    bad = new_child(home_postcode="0001", needs=["dragons"], wishes=["nowhere"])
    bad["network"][0]["status"] = "maybe"
    r = env.client.post("/v1/children", json=bad, headers=env.auth("coordinator"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"body.home_postcode", "body.needs", "body.wishes[0]", "body.network[0].status"} <= paths
    schema = env.client.post(
        "/v1/children", json={"child_id": "x", "age": "old"}, headers=env.auth("coordinator")
    )
    assert schema.status_code == 422
    assert any(e["path"] == "body.age" for e in schema.json()["errors"])


def test_child_outside_kommune(env: Env) -> None:
    other = env.child_in("727")
    assert (
        env.client.get(f"/v1/children/{other}", headers=env.auth("coordinator")).status_code == 404
    )
    assert (
        env.client.get("/v1/children/does-not-exist", headers=env.auth("coordinator")).status_code
        == 404
    )
    r = env.client.post(
        "/v1/children", json=new_child(kommune="727"), headers=env.auth("coordinator")
    )
    assert r.status_code == 403


def test_proposals(env: Env) -> None:
    cid = env.child_in("751")
    r = env.client.post(
        f"/v1/children/{cid}/proposals",
        json={"top": 3, "why_not": True},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["child_id"] == cid and len(body["proposals"]) <= 3
    assert "excluded_options" in body and body["policy"] == "default"
    assert audit_count(env, "child.proposals", cid) == 1
    assert (
        env.client.post("/v1/children/nope/proposals", headers=env.auth("coordinator")).status_code
        == 404
    )


# ----------------------------------------------------------------------- families & co


def test_family_crud_and_capacity(env: Env) -> None:
    c = env.client
    r = c.post("/v1/families", json=new_family(), headers=env.auth("consultant"))
    assert r.status_code == 201, r.text
    assert r.json()["free_places"] == 2
    assert (
        c.post("/v1/families", json=new_family(), headers=env.auth("consultant")).status_code == 409
    )
    bad = c.post("/v1/families", json=new_family("fx2", occupied=5), headers=env.auth("consultant"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "body.occupied"
    assert c.get("/v1/families/fx1", headers=env.auth("consultant")).json()["level"] == (
        "forstaerket"
    )
    assert "fx1" in {
        f["family_id"] for f in c.get("/v1/families", headers=env.auth("consultant")).json()
    }
    assert c.get("/v1/families/fx1", headers=env.auth("consultant")).json()["monthly_rate"] is None
    put = c.put(
        "/v1/families/fx1",
        json=new_family(places=3) | {"monthly_rate": 31500.0},
        headers=env.auth("consultant"),
    )
    assert put.status_code == 200 and put.json()["places"] == 3
    assert put.json()["monthly_rate"] == 31500.0  # the family's own fee, stored
    for wrong in (-1, 0):  # empty is the profile's fee; 0 would be read as "none" nowhere
        body = new_family() | {"monthly_rate": wrong}
        refused = c.put("/v1/families/fx1", json=body, headers=env.auth("consultant"))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["path"] == "body.monthly_rate"
    patch = c.patch(
        "/v1/families/fx1/capacity",
        json={"occupied": 1, "confirm_vacancy": True, "paused": True},
        headers=env.auth("consultant"),
    )
    assert patch.status_code == 200, patch.text
    assert patch.json()["vacancy_confirmed"] == date.today().isoformat()
    assert patch.json()["status"] == "paused" and patch.json()["free_places"] == 2
    too_many = c.patch(
        "/v1/families/fx1/capacity", json={"occupied": 9}, headers=env.auth("consultant")
    )
    assert too_many.status_code == 422
    assert c.get("/v1/families/fx1", headers=env.auth("consultant_727")).status_code == 404
    assert (
        c.post(
            "/v1/families", json=new_family("fx3", kommune="727"), headers=env.auth("consultant")
        ).status_code
        == 403
    )


def test_institution_crud_and_capacity(env: Env) -> None:
    c = env.client
    body = {
        "institution_id": "ix1",
        "kommune_code": "751",
        "kind": "opholdssted",
        "postcode": "8000",
        "places": 6,
        "occupied": 2,
        "combination_places": 2,
        "min_age": 10,
        "max_age": 17,
        "target_groups": ["trauma"],
    }
    r = c.post("/v1/institutions", json=body, headers=env.auth("consultant"))
    assert r.status_code == 201, r.text
    assert r.json()["free_places"] == 4
    assert c.get("/v1/institutions/ix1", headers=env.auth("consultant")).status_code == 200
    assert "ix1" in {
        i["institution_id"]
        for i in c.get("/v1/institutions", headers=env.auth("consultant")).json()
    }
    assert (
        c.put(
            "/v1/institutions/ix1", json=body | {"places": 8}, headers=env.auth("consultant")
        ).json()["places"]
        == 8
    )
    patch = c.patch(
        "/v1/institutions/ix1/capacity",
        json={"combination_occupied": 1},
        headers=env.auth("consultant"),
    )
    assert patch.status_code == 200 and patch.json()["combination_occupied"] == 1
    assert (
        c.patch(
            "/v1/institutions/ix1/capacity", json={"paused": True}, headers=env.auth("consultant")
        ).status_code
        == 422
    )
    assert c.get("/v1/institutions/nope", headers=env.auth("consultant")).status_code == 404


def test_capacity_overview(env: Env) -> None:
    r = env.client.get("/v1/capacity", headers=env.auth("consultant_727"))
    assert r.status_code == 200
    body = r.json()
    assert {g["kommune_code"] for g in body["groups"]} == {"751", "727"}
    for g in body["groups"]:
        # free is summed per home, so it is at least the group's net and at most its places
        assert max(g["places"] - g["occupied"] - g["reserved"], 0) <= g["free"] <= g["places"]
    families_751 = sum(f.places for f in env.dataset.families if f.kommune_code == "751")
    assert (
        sum(
            g["places"]
            for g in body["groups"]
            if g["kommune_code"] == "751" and g["kind"] == "foster"
        )
        == families_751
    )
    assert isinstance(body["stale"], list)


# ------------------------------------------------------------------------- reservations


def _eligible_option(env: Env, cid: str) -> dict[str, Any]:
    props = env.client.post(
        f"/v1/children/{cid}/proposals", json={"top": 50}, headers=env.auth("coordinator")
    ).json()["proposals"]
    return next(p for p in props if p["kind"] in ("foster", "institution"))


def _pool(env: Env, pool_id: str) -> CapacityPool:
    with sessionmaker(env.engine)() as s:
        return s.get_one(CapacityPool, pool_id)


def test_reserve_confirm_release(env: Env) -> None:
    cid = env.child_in("751")
    option = _eligible_option(env, cid)
    before = _pool(env, option["option_id"])
    r = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option["option_id"], "hours": 2},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["status"] == "held" and hold["child_ids"] == [cid]
    assert _pool(env, option["option_id"]).reserved == before.reserved + 1
    assert (
        env.client.get(f"/v1/reservations/{hold['id']}", headers=env.auth("coordinator")).json()[
            "status"
        ]
        == "held"
    )
    assert (
        env.client.get(
            f"/v1/reservations/{hold['id']}", headers=env.auth("coordinator_727")
        ).status_code
        == 404
    )
    done = env.client.post(
        f"/v1/reservations/{hold['id']}/confirm", headers=env.auth("coordinator")
    )
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    after = _pool(env, option["option_id"])
    assert after.occupied == before.occupied + 1 and after.reserved == before.reserved
    again = env.client.delete(f"/v1/reservations/{hold['id']}", headers=env.auth("coordinator"))
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    # A second hold, released.
    cid2 = [
        c.child_id for c in env.dataset.children if c.kommune_code == "751" and not c.sibling_group
    ][1]
    option2 = _eligible_option(env, cid2)
    held_before = _pool(env, option2["option_id"]).reserved
    h2 = env.client.post(
        "/v1/reservations",
        json={"child_id": cid2, "option_id": option2["option_id"]},
        headers=env.auth("coordinator"),
    ).json()
    released = env.client.delete(f"/v1/reservations/{h2['id']}", headers=env.auth("coordinator"))
    assert released.json()["status"] == "released"
    assert _pool(env, option2["option_id"]).reserved == held_before
    assert (
        env.client.post(
            f"/v1/reservations/{h2['id']}/confirm", headers=env.auth("coordinator")
        ).status_code
        == 409
    )


def test_a_confirmed_reservation_becomes_a_placement_under_review(env: Env) -> None:
    cid = env.child_in("751")
    option = _eligible_option(env, cid)
    hold = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option["option_id"]},
        headers=env.auth("coordinator"),
    ).json()
    env.client.post(f"/v1/reservations/{hold['id']}/confirm", headers=env.auth("coordinator"))
    placements = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    assert placements.status_code == 200
    (placed,) = placements.json()
    start = date.fromisoformat(placed["start_date"])
    assert isinstance(placed["id"], int)
    assert placed | {"start_date": None, "id": None} == {
        "id": None,
        "child_id": cid,
        "option_id": option["option_id"],
        "kind": option["kind"],
        "start_date": None,
        "status": "active",
        "end_date": None,
        "end_reason": "",
        "last_follow_up": None,
        "reservation_id": hold["id"],
    }
    later = start.replace(year=start.year + 3)
    one = env.client.get(
        f"/v1/children/{cid}/review",
        params={"as_of": later.isoformat()},
        headers=env.auth("coordinator"),
    )
    assert one.status_code == 200, one.text
    body = one.json()
    months = load_policy("default").step_down_months[Kind(option["kind"])]
    assert body["step_down"]["review_months"] == months
    if months:
        assert body["step_down"]["review_date"] == add_months(start, months).isoformat()
        assert body["step_down"]["reached"]
    assert all(p["tier"] < body["tier"] for p in body["step_down"]["proposals"])
    assert body["follow_up"]["status"] == "overdue"  # nothing held in three years
    assert body["monthly_cost"] > 0  # the default profile's [costs]
    for p in body["step_down"]["proposals"]:
        assert p["monthly_cost_change"] == p["monthly_cost"] - body["monthly_cost"]
    listed = env.client.get(
        "/v1/review", params={"kommune": "751"}, headers=env.auth("coordinator")
    ).json()
    assert [r["child_id"] for r in listed["placements"]] == [cid]
    assert listed["summary"]["active"] == 1
    assert audit_count(env, "review.read", cid) == 2
    assert audit_count(env, "placement.list", cid) == 1
    # Outside the kommune, outside the role, and a child with nothing to review.
    assert (
        env.client.get(
            f"/v1/children/{cid}/review", headers=env.auth("coordinator_727")
        ).status_code
        == 404
    )
    assert (
        env.client.get(
            "/v1/review", params={"kommune": "751"}, headers=env.auth("coordinator_727")
        ).status_code
        == 403
    )
    assert env.client.get("/v1/review", headers=env.auth("consultant")).status_code == 403
    unplaced = [c.child_id for c in env.dataset.children if c.kommune_code == "751"][1]
    none = env.client.get(f"/v1/children/{unplaced}/review", headers=env.auth("coordinator"))
    assert none.status_code == 404 and none.json()["reason"] == "NO_ACTIVE_PLACEMENT"
    bad = env.client.get(
        f"/v1/children/{cid}/review", params={"as_of": "soon"}, headers=env.auth("coordinator")
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_review_of_imported_placements_matches_the_files(
    tmp_path: Path, gazetteer: Gazetteer, api_dataset: Dataset
) -> None:
    schools = gazetteer.schools.frame
    schools = schools[schools["kommune_code"].isin(["751", "727"])]
    dataset = generate_dataset(SyntheticSpec(30, 40, 6, seed=5, placements=True), schools)
    assert dataset.placements
    engine = fresh_engine("sqlite", tmp_path)
    load(engine, dataset)
    keys = make_keys(engine)
    as_of = date(2026, 11, 1)
    want = review(Matcher(dataset), as_of, {"751"}).as_dict()
    assert want["placements"]
    with TestClient(create_app(Service(engine, gazetteer))) as client:
        got = client.get(
            "/v1/review",
            params={"as_of": as_of.isoformat()},
            headers={"Authorization": f"Bearer {keys['coordinator']}"},
        )
    assert got.status_code == 200
    assert got.json() == json.loads(json.dumps(want))
    engine.dispose()


def test_reservation_errors(env: Env) -> None:
    cid = env.child_in("751")
    c = env.client
    assert (
        c.post(
            "/v1/reservations", json={"option_id": "x"}, headers=env.auth("coordinator")
        ).status_code
        == 422
    )
    assert (
        c.post(
            "/v1/reservations",
            json={"child_id": cid, "option_id": "no-such"},
            headers=env.auth("coordinator"),
        ).status_code
        == 404
    )
    assert (
        c.post(
            "/v1/reservations",
            json={"child_id": env.child_in("727"), "option_id": "x"},
            headers=env.auth("coordinator"),
        ).status_code
        == 404
    )
    full = next(f.family_id for f in env.dataset.families if f.places == f.occupied)
    r = c.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": full},
        headers=env.auth("coordinator"),
    )
    assert r.status_code in (409, 422)
    assert r.headers["content-type"] == PROBLEM


def test_last_place_conflict_and_idempotency(env: Env) -> None:
    c = env.client
    c.post(
        "/v1/families",
        json=new_family(
            "last",
            places=1,
            target_groups=list(NEEDS),
            level="specialiseret",
            max_siblings=1,
        ),
        headers=env.auth("consultant"),
    )
    kids = [
        c_.child_id
        for c_ in env.dataset.children
        if c_.kommune_code == "751" and not c_.sibling_group and c_.support_level < 4
    ]
    body = {"child_id": kids[0], "option_id": "last", "kind": "foster"}
    headers = env.auth("coordinator") | {"Idempotency-Key": "k-1"}
    first = c.post("/v1/reservations", json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = c.post("/v1/reservations", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    lost = c.post(
        "/v1/reservations", json=body | {"child_id": kids[1]}, headers=env.auth("coordinator")
    )
    assert lost.status_code == 409
    assert "NO_CAPACITY" in lost.text


def test_expired_hold_frees_its_place(env: Env) -> None:
    cid = env.child_in("751")
    option = _eligible_option(env, cid)
    before = _pool(env, option["option_id"]).reserved
    r = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option["option_id"], "hours": 0.0002},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 201
    time.sleep(1.0)
    assert (
        env.client.get(
            f"/v1/reservations/{r.json()['id']}", headers=env.auth("coordinator")
        ).json()["status"]
        == "expired"
    )
    assert _pool(env, option["option_id"]).reserved == before
    assert (
        env.client.post(
            f"/v1/reservations/{r.json()['id']}/confirm", headers=env.auth("coordinator")
        ).status_code
        == 409
    )


# ------------------------------------------------------------------------------ batches


def _wait(env: Env, batch_id: str, who: str = "planner") -> dict[str, Any]:
    for _ in range(300):
        body = env.client.get(f"/v1/batches/{batch_id}", headers=env.auth(who)).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    pytest.fail("batch did not finish")


def test_batch_job_explains_who_holds_each_childs_first_choice(env: Env) -> None:
    r = env.client.post(
        "/v1/batches", json={"time_limit": 30, "explain": True}, headers=env.auth("planner")
    )
    assert r.status_code == 202, r.text
    result = _wait(env, r.json()["id"])["result"]
    explained = result["explanations"]
    assert explained, "the demo cohort has children who did not get their first choice"
    assigned = {a["child_id"]: a["option_id"] for a in result["assignments"]}
    for row in explained:  # each names the first choice it did not get and who holds it
        assert row["first_choice"] is not None
        assert assigned.get(row["child_id"]) != row["first_choice"]["option_id"]
        assert set(row) >= {"first_choice", "held_by", "cost_if_forced"}
        assert row["held_by"] or not row["feasible"] or row["cost_if_forced"]["placed"] < 0


def test_batch_job(env: Env) -> None:
    r = env.client.post(
        "/v1/batches", json={"solver": "auto", "time_limit": 30}, headers=env.auth("planner")
    )
    assert r.status_code == 202, r.text
    body = _wait(env, r.json()["id"])
    assert body["status"] == "done", body
    result = body["result"]
    assert result["status"] in ("OPTIMAL", "FEASIBLE")
    cohort = {c.child_id for c in env.dataset.children if c.kommune_code == "751"}
    seen = {a["child_id"] for a in result["assignments"]} | {
        u["child_id"] for u in result["unassigned"]
    }
    assert seen == cohort
    assert "kpis" in result
    assert (
        env.client.get(f"/v1/batches/{r.json()['id']}", headers=env.auth("planner_727")).status_code
        == 404
    )
    assert (
        env.client.post(
            "/v1/batches", json={"kommuner": ["727"]}, headers=env.auth("planner")
        ).status_code
        == 403
    )
    assert (
        env.client.post(
            "/v1/batches", json={"child_ids": ["zzz"]}, headers=env.auth("planner")
        ).status_code
        == 422
    )


# -------------------------------------------------------------------------------- admin


def test_audit_and_keys(env: Env) -> None:
    cid = env.child_in("751")
    env.client.get(f"/v1/children/{cid}", headers=env.auth("coordinator"))
    audit = env.client.get(f"/v1/audit?child_id={cid}", headers=env.auth("admin")).json()
    assert audit and audit[0]["action"] == "child.read" and audit[0]["role"] == "coordinator"
    made = env.client.post(
        "/v1/keys", json={"role": "coordinator", "kommuner": ["727"]}, headers=env.auth("admin")
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert (
        env.client.get("/v1/children", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    listed = env.client.get("/v1/keys", headers=env.auth("admin")).json()
    assert all("key" not in k and "key_hash" not in k for k in listed)


# ------------------------------------------------------------------------------ policies


def test_policies_are_listed_and_shown_with_their_sources(env: Env) -> None:
    c = env.client
    listed = c.get("/v1/policies", headers=env.auth("planner"))
    assert listed.status_code == 200
    assert {p["name"]: p["kommune_code"] for p in listed.json()}["hvidovre"] == "167"
    shown = c.get("/v1/policies/hvidovre", headers=env.auth("coordinator")).json()
    assert shown["follow_up"] == {"first_weeks": 4, "every_weeks": 6}
    assert "line 281" in shown["sources"]["follow_up.first_weeks"]
    missing = c.get("/v1/policies/aarhus", headers=env.auth("planner"))
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert c.get("/v1/policies").status_code == 401
    assert c.post("/v1/policies/hvidovre", headers=env.auth("admin")).status_code == 405


def test_concurrent_reads_are_each_audited_before_they_answer(env: Env) -> None:
    import threading

    cid = env.child_in("751")
    before = audit_count(env, "child.proposals", cid)
    codes: list[int] = []
    barrier = threading.Barrier(12)

    def ask() -> None:
        barrier.wait()
        r = env.client.post(
            f"/v1/children/{cid}/proposals", json={"top": 3}, headers=env.auth("coordinator")
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 12
    assert audit_count(env, "child.proposals", cid) == before + 12


def test_a_read_whose_audit_cannot_be_written_returns_no_data(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.services.audit_log import AuditNotWritten

    def refuse(rows: list[Any]) -> None:
        raise AuditNotWritten("audit rows not committed: OperationalError")

    monkeypatch.setattr(env.service.audit_log, "write", refuse)
    cid = env.child_in("751")
    client = TestClient(env.client.app, raise_server_exceptions=False)
    r = client.get(f"/v1/children/{cid}", headers=env.auth("coordinator"))
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM
    assert cid not in r.text and "Traceback" not in r.text
