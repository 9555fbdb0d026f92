"""The role x kommune matrix: every role against every route, inside and outside its
kommune; concurrency on the last place; persistence across a real server restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.db.orm import BatchJob, CapacityPool
from benchmarks.server import free_port, start_server, stop_server
from tests.api.conftest import Env, fresh_engine, load, make_keys

ROLES = ("coordinator", "consultant", "planner", "admin")


def routes(env: Env) -> list[tuple[str, str, str, Any, dict[str, int]]]:
    """(name, method, url, body, expected status per role) for a resource in kommune 751.
    Callers outside 751 get 404 where the role fits (existence is not revealed)."""
    cid = env.child_in("751")
    fam = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    inst = next(i.institution_id for i in env.dataset.institutions if i.kommune_code == "751")
    deny = {"coordinator": 403, "consultant": 403, "planner": 403, "admin": 403}
    return [
        ("children.list", "GET", "/v1/children", None, deny | {"coordinator": 200}),
        ("children.read", "GET", f"/v1/children/{cid}", None, deny | {"coordinator": 200}),
        (
            "children.proposals",
            "POST",
            f"/v1/children/{cid}/proposals",
            {"top": 1},
            deny | {"coordinator": 200},
        ),
        (
            "children.placements",
            "GET",
            f"/v1/children/{cid}/placements",
            None,
            deny | {"coordinator": 200},
        ),
        ("review", "GET", "/v1/review", None, deny | {"coordinator": 200}),
        ("families.list", "GET", "/v1/families", None, deny | {"consultant": 200}),
        ("families.read", "GET", f"/v1/families/{fam}", None, deny | {"consultant": 200}),
        (
            "families.capacity",
            "PATCH",
            f"/v1/families/{fam}/capacity",
            {"confirm_vacancy": True},
            deny | {"consultant": 200},
        ),
        ("institutions.read", "GET", f"/v1/institutions/{inst}", None, deny | {"consultant": 200}),
        (
            "institutions.capacity",
            "PATCH",
            f"/v1/institutions/{inst}/capacity",
            {"confirm_vacancy": True},
            deny | {"consultant": 200},
        ),
        (
            "capacity",
            "GET",
            "/v1/capacity",
            None,
            {"coordinator": 200, "consultant": 200, "planner": 200, "admin": 403},
        ),
        ("audit", "GET", "/v1/audit", None, deny | {"admin": 200}),
        ("keys", "GET", "/v1/keys", None, deny | {"admin": 200}),
        ("batches.create", "POST", "/v1/batches", {"solver": "greedy"}, deny | {"planner": 202}),
    ]


SCOPED = {
    "children.read",
    "children.placements",
    "children.proposals",
    "families.read",
    "families.capacity",
    "institutions.read",
    "institutions.capacity",
}


def test_role_by_kommune_matrix(env: Env) -> None:
    for name, method, url, body, expected in routes(env):
        for role in ROLES:
            for inside in (True, False):
                who = role if inside or role == "admin" else f"{role}_727"
                r = env.client.request(method, url, json=body, headers=env.auth(who))
                want = expected[role]
                if not inside and want < 400 and name in SCOPED:
                    want = 404
                assert r.status_code == want, (name, role, inside, r.status_code, r.text)
                if r.status_code >= 400:
                    assert r.headers["content-type"] == "application/problem+json"


def test_twenty_coordinators_race_for_the_last_place(env: Env) -> None:
    kids = env.add_last_place("race")
    assert len(kids) >= 3
    kids = (kids * 20)[:20]
    barrier = threading.Barrier(20)
    codes: list[int] = []
    lock = threading.Lock()

    def reserve(cid: str) -> None:
        barrier.wait()
        r = env.client.post(
            "/v1/reservations",
            json={"child_id": cid, "option_id": "race", "kind": "foster"},
            headers=env.auth("coordinator"),
        )
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=reserve, args=(k,)) for k in kids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] + [409] * 19, codes
    with sessionmaker(env.engine)() as s:
        for pool in s.scalars(select(CapacityPool)):
            assert pool.occupied + pool.reserved <= pool.places, pool.pool_id


@pytest.mark.slow
def test_data_and_placements_persist_across_a_real_restart(tmp_path: Path, api_dataset) -> None:
    url = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    engine = fresh_engine("sqlite", tmp_path)
    engine.dispose()
    from api.db.engine import make_engine

    engine = make_engine(url)
    load(engine, api_dataset)
    keys = make_keys(engine)
    auth = {"Authorization": f"Bearer {keys['coordinator']}"}
    port = free_port()
    proc = start_server(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        cid = next(
            c.child_id
            for c in api_dataset.children
            if c.kommune_code == "751" and not c.sibling_group
        )
        props = httpx.post(
            f"{base}/v1/children/{cid}/proposals", json={"top": 20}, headers=auth
        ).json()["proposals"]
        option = next(p for p in props if p["kind"] in ("foster", "institution"))
        hold = httpx.post(
            f"{base}/v1/reservations",
            json={"child_id": cid, "option_id": option["option_id"]},
            headers=auth,
        ).json()
        assert (
            httpx.post(f"{base}/v1/reservations/{hold['id']}/confirm", headers=auth).json()[
                "status"
            ]
            == "confirmed"
        )
        short = httpx.post(
            f"{base}/v1/reservations",
            json={
                "child_id": next(
                    c.child_id
                    for c in api_dataset.children
                    if c.kommune_code == "751" and not c.sibling_group and c.child_id != cid
                ),
                "option_id": option["option_id"],
                "kind": option["kind"],
                "hours": 0.0003,
            },
            headers=auth,
        )
        created = httpx.post(
            f"{base}/v1/children",
            json={
                "child_id": "kept",
                "kommune_code": "751",
                "age": 5,
                "support_level": 1,
                "home_postcode": "8000",
            },
            headers=auth,
        )
        assert created.status_code == 201
    finally:
        stop_server(proc)
    time.sleep(1.2)  # the short hold (about 1 s) expires while the server is down
    proc = start_server(url, port)
    try:
        assert httpx.get(f"{base}/v1/children/kept", headers=auth).status_code == 200
        again = httpx.get(f"{base}/v1/reservations/{hold['id']}", headers=auth).json()
        assert again["status"] == "confirmed"
        if short.status_code == 201:
            assert (
                httpx.get(f"{base}/v1/reservations/{short.json()['id']}", headers=auth).json()[
                    "status"
                ]
                == "expired"
            )
        with sessionmaker(engine)() as s:
            pool = s.get_one(
                CapacityPool,
                option["option_id"]
                if option["kind"] != ("combination")
                else f"{option['option_id']}#combination",
            )
            original = (
                next(f for f in api_dataset.families if f.family_id == option["option_id"])
                if option["kind"] == "foster"
                else next(
                    i for i in api_dataset.institutions if i.institution_id == option["option_id"]
                )
            )
            assert pool.occupied == original.occupied + 1
            assert pool.reserved == 0
    finally:
        stop_server(proc)


def test_interrupted_batch_job_is_marked_failed_on_restart(env: Env) -> None:
    from api.db.orm import BatchJob
    from api.services.runtime import now

    with sessionmaker(env.engine)() as s:
        s.add(
            BatchJob(
                id="stuck",
                status="running",
                stage="solving",
                progress=0.3,
                params={},
                created_by=1,
                kommuner="751",
                created_at=now(),
            )
        )
        s.commit()
    assert env.service.fail_interrupted_jobs() == 1
    body = env.client.get("/v1/batches/stuck", headers=env.auth("planner")).json()
    assert body["status"] == "failed" and "restart" in body["error"]


@pytest.mark.slow
def test_two_worker_processes_share_capacity_and_jobs(tmp_path: Path, api_dataset) -> None:
    """`serve --workers 2`: a job the last server left running is failed once, by the
    parent; a family paused through one worker is gone from every worker's proposals."""
    from datetime import UTC, datetime

    from api.db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'workers.sqlite3'}"
    engine = make_engine(url)
    load(engine, api_dataset)
    keys = make_keys(engine)
    with sessionmaker(engine).begin() as s:
        s.add(
            BatchJob(
                id="left-running",
                status="running",
                params={},
                created_by=1,
                created_at=datetime.now(UTC),
            )
        )
    port = free_port()
    proc = start_server(url, port, workers=2)
    base = f"http://127.0.0.1:{port}"
    coordinator = {"Authorization": f"Bearer {keys['coordinator']}"}
    try:
        with sessionmaker(engine)() as s:
            row = s.get_one(BatchJob, "left-running")
            assert (row.status, row.stage) == ("failed", "interrupted")
        cid = next(
            c.child_id
            for c in api_dataset.children
            if c.kommune_code == "751" and not c.sibling_group
        )

        def foster_ids() -> set[str]:
            # A new connection each time, so that both workers answer some of them.
            r = httpx.post(
                f"{base}/v1/children/{cid}/proposals", json={"top": 50}, headers=coordinator
            )
            assert r.status_code == 200
            return {p["option_id"] for p in r.json()["proposals"] if p["kind"] == "foster"}

        before = set.union(*(foster_ids() for _ in range(6)))
        family = sorted(
            fid
            for fid in before
            if any(f.family_id == fid and f.kommune_code == "751" for f in api_dataset.families)
        )[0]
        paused = httpx.patch(
            f"{base}/v1/families/{family}/capacity",
            json={"paused": True},
            headers={"Authorization": f"Bearer {keys['consultant']}"},
        )
        assert paused.status_code == 200, paused.text
        for _ in range(20):
            assert family not in foster_ids()
    finally:
        stop_server(proc)
