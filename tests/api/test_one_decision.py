"""One child, one decision: at most one live hold and one active placement per child, moves
as their own request, placements ended with a reason, every change audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from api.db.orm import AuditEntry, CapacityPool, LiveHold, PlacementRow, Reservation
from tests.api.conftest import Env

PROBLEM = "application/problem+json"


def _options(env: Env, cid: str, kinds: tuple[str, ...] = ("foster", "institution")) -> list[Any]:
    props = env.client.post(
        f"/v1/children/{cid}/proposals", json={"top": 100}, headers=env.auth("coordinator")
    ).json()["proposals"]
    return [p for p in props if p["kind"] in kinds]


def _unplaced_child(env: Env, kommune: str = "751", skip: int = 0) -> str:
    placed = {p.child_id for p in env.dataset.placements if p.active}
    free = [
        c.child_id
        for c in env.dataset.children
        if c.kommune_code == kommune and not c.sibling_group and c.child_id not in placed
    ]
    return [c for c in free if len(_options(env, c)) >= 3][skip]


def _hold(env: Env, cid: str, option: dict[str, Any], who: str = "coordinator") -> httpx.Response:
    return env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option["option_id"], "kind": option["kind"]},
        headers=env.auth(who),
    )


def _placed(env: Env, cid: str) -> dict[str, Any]:
    opts = _options(env, cid)
    hold = _hold(env, cid, opts[0]).json()
    done = env.client.post(
        f"/v1/reservations/{hold['id']}/confirm", headers=env.auth("coordinator")
    )
    assert done.status_code == 200, done.text
    rows = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator")).json()
    return next(r for r in rows if r["status"] == "active")


def _pool(env: Env, pool_id: str) -> CapacityPool:
    with sessionmaker(env.engine)() as s:
        return s.get_one(CapacityPool, pool_id)


def _audit(env: Env, action: str, child_id: str) -> int:
    with sessionmaker(env.engine)() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.child_id == child_id)
            )
            or 0
        )


def test_a_second_hold_of_the_same_child_is_refused_with_the_first_holds_id(env: Env) -> None:
    cid = _unplaced_child(env)
    first, second = _options(env, cid)[:2]
    one = _hold(env, cid, first)
    assert one.status_code == 201, one.text
    two = _hold(env, cid, second)
    assert two.status_code == 409 and two.headers["content-type"] == PROBLEM
    assert two.json()["reason"] == "CHILD_HAS_HOLD"
    assert two.json()["reservation_id"] == one.json()["id"]
    # Its places were not taken.
    assert (
        _pool(env, second["option_id"]).reserved == 0 or second["option_id"] == first["option_id"]
    )
    # Released, the child can be held again.
    env.client.delete(f"/v1/reservations/{one.json()['id']}", headers=env.auth("coordinator"))
    assert _hold(env, cid, second).status_code == 201


def test_an_expired_hold_frees_the_child(env: Env) -> None:
    cid = _unplaced_child(env)
    first, second = _options(env, cid)[:2]
    one = _hold(env, cid, first).json()
    with sessionmaker(env.engine).begin() as s:
        s.execute(
            update(Reservation)
            .where(Reservation.id == one["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert _hold(env, cid, second).status_code == 201
    with sessionmaker(env.engine)() as s:
        assert s.get_one(Reservation, one["id"]).status == "expired"
        assert s.scalars(select(LiveHold.reservation_id).where(LiveHold.child_id == cid)).all() != [
            one["id"]
        ]


def test_a_sibling_already_held_blocks_a_hold_of_its_group(env: Env) -> None:
    kinds = ("network", "foster", "combination", "institution")
    groups = [
        ids
        for ids in env.dataset.sibling_groups.values()
        if len(ids) >= 2 and env.dataset.child_by_id[ids[0]].kommune_code == "751"
    ]
    a, b, opts = next((g[0], g[1], o) for g in groups if (o := _options(env, g[0], kinds)))
    one = _hold(env, a, opts[0])
    assert one.status_code == 201, one.text
    assert set(one.json()["child_ids"]) >= {a, b}
    again = _hold(env, b, opts[-1])
    assert again.status_code == 409 and again.json()["reason"] == "CHILD_HAS_HOLD"


def test_confirmed_then_a_further_hold_is_already_placed(env: Env) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    other = next(o for o in _options(env, cid) if o["option_id"] != placement["option_id"])
    again = _hold(env, cid, other)
    assert again.status_code == 409 and again.json()["reason"] == "ALREADY_PLACED"
    assert again.json()["placement_ids"] == [placement["id"]]
    with sessionmaker(env.engine)() as s:
        active = s.scalar(
            select(func.count())
            .select_from(PlacementRow)
            .where(PlacementRow.child_id == cid, PlacementRow.status == "active")
        )
    assert active == 1


def test_concurrent_holds_of_several_options_for_one_child_leave_exactly_one(env: Env) -> None:
    cid = _unplaced_child(env, skip=1)
    opts = _options(env, cid)[:3]
    before = {o["option_id"]: _pool(env, o["option_id"]).reserved for o in opts}
    with ThreadPoolExecutor(9) as pool:
        answers = list(pool.map(lambda o: _hold(env, cid, o), opts * 3))
    won = [a for a in answers if a.status_code == 201]
    assert len(won) == 1, [a.status_code for a in answers]
    assert {a.json()["reason"] for a in answers if a.status_code != 201} == {"CHILD_HAS_HOLD"}
    reserved = sum(_pool(env, o).reserved - n for o, n in before.items())
    assert reserved == 1


def test_end_frees_the_place_and_is_audited(env: Env) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    occupied = _pool(env, placement["option_id"]).occupied
    ended = env.client.post(
        f"/v1/placements/{placement['id']}/end",
        json={"end_reason": "home"},
        headers=env.auth("coordinator"),
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["status"] == "ended" and body["end_reason"] == "home"
    assert body["end_date"] == date.today().isoformat()
    assert _pool(env, placement["option_id"]).occupied == occupied - 1
    assert _audit(env, "placement.end", cid) == 1
    twice = env.client.post(
        f"/v1/placements/{placement['id']}/end",
        json={"end_reason": "home"},
        headers=env.auth("coordinator"),
    )
    assert twice.status_code == 409 and twice.json()["reason"] == "NOT_ACTIVE"
    # Home again, the child may be held anew.
    assert _hold(env, cid, _options(env, cid)[0]).status_code == 201


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"end_reason": "holiday"}, "body.end_reason"),
        ({"end_reason": "home", "end_date": "2999-01-01"}, "body.end_date"),
        ({"end_reason": "home", "end_date": "1999-01-01"}, "body.end_date"),
        ({"end_reason": "home", "extra": 1}, "body.extra"),
    ],
)
def test_end_refuses_bad_values_naming_the_field(env: Env, body: dict[str, Any], path: str) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    r = env.client.post(
        f"/v1/placements/{placement['id']}/end", json=body, headers=env.auth("coordinator")
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert path in {e["path"] for e in r.json()["errors"]}


def test_move_ends_the_old_placement_and_starts_the_new_in_one_step(env: Env) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    target = next(o for o in _options(env, cid) if o["option_id"] != placement["option_id"])
    old_before = _pool(env, placement["option_id"]).occupied
    new_before = _pool(env, target["option_id"]).occupied
    moved = env.client.post(
        f"/v1/placements/{placement['id']}/move",
        json={"option_id": target["option_id"], "kind": target["kind"], "end_reason": "step_down"},
        headers=env.auth("coordinator"),
    )
    assert moved.status_code == 200, moved.text
    ended, started = moved.json()["ended"], moved.json()["started"]
    assert [e["id"] for e in ended] == [placement["id"]]
    assert ended[0]["status"] == "ended" and ended[0]["end_reason"] == "step_down"
    assert [s["child_id"] for s in started] == [cid] and started[0]["status"] == "active"
    assert _pool(env, placement["option_id"]).occupied == old_before - 1
    assert _pool(env, target["option_id"]).occupied == new_before + 1
    assert _audit(env, "placement.move", cid) == 1
    rows = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    assert [r["status"] for r in rows.json()].count("active") == 1


def test_a_move_to_an_ineligible_or_full_option_changes_nothing(env: Env) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    r = env.client.post(
        f"/v1/placements/{placement['id']}/move",
        json={"option_id": "NO-SUCH-OPTION"},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 404
    same = env.client.post(
        f"/v1/placements/{placement['id']}/move",
        json={"option_id": placement["option_id"]},
        headers=env.auth("coordinator"),
    )
    assert same.status_code == 422
    rows = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    assert [(r["id"], r["status"]) for r in rows.json() if r["status"] == "active"] == [
        (placement["id"], "active")
    ]


def test_placements_of_another_kommune_answer_as_missing(env: Env) -> None:
    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/end", {"end_reason": "home"}),
        ("POST", "/move", {"option_id": "X"}),
    ):
        theirs = env.client.request(
            method,
            f"/v1/placements/{placement['id']}{suffix}",
            json=body,
            headers=env.auth("coordinator_727"),
        )
        missing = env.client.request(
            method,
            f"/v1/placements/987654{suffix}",
            json=body,
            headers=env.auth("coordinator_727"),
        )
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["detail"].replace(str(placement["id"]), "N") == missing.json()[
            "detail"
        ].replace("987654", "N")


def test_reading_a_reservation_is_audited(env: Env) -> None:
    cid = _unplaced_child(env)
    hold = _hold(env, cid, _options(env, cid)[0]).json()
    before = _audit(env, "reservation.read", cid)
    env.client.get(f"/v1/reservations/{hold['id']}", headers=env.auth("coordinator"))
    assert _audit(env, "reservation.read", cid) == before + 1


def test_the_database_refuses_a_second_active_placement(env: Env) -> None:
    """The rule holds even for a writer that bypasses the use cases."""
    from sqlalchemy.exc import IntegrityError

    cid = _unplaced_child(env)
    placement = _placed(env, cid)
    with pytest.raises(IntegrityError), sessionmaker(env.engine).begin() as s:
        s.add(
            PlacementRow(
                child_id=cid,
                option_id=placement["option_id"],
                kind=placement["kind"],
                start_date=date.today(),
                status="active",
                end_reason="",
            )
        )
    other = _unplaced_child(env, skip=1)
    hold = _hold(env, other, _options(env, other)[0]).json()
    with pytest.raises(IntegrityError), sessionmaker(env.engine).begin() as s:
        s.add(LiveHold(child_id=other, reservation_id=hold["id"]))


def test_a_write_is_committed_before_its_response_starts(env: Env) -> None:
    """A client that reads right after a 201 (a browser following a redirect, another
    connection) must see the write: the transaction commits before the first byte is sent,
    and a failed commit can still become an error response instead of a sent success."""
    import asyncio
    import json

    cid = _unplaced_child(env)
    option = _options(env, cid)[0]
    body = json.dumps({"child_id": cid, "option_id": option["option_id"], "kind": option["kind"]})
    seen_at_start: list[int] = []

    def holds_in_database() -> int:
        with env.service.read_sessions() as s:  # no write lock: it must not wait for the request
            return int(
                s.scalar(select(func.count()).select_from(LiveHold).where(LiveHold.child_id == cid))
                or 0
            )

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen_at_start.append(message["status"])
            seen_at_start.append(holds_in_database())

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/reservations",
        "raw_path": b"/v1/reservations",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", env.auth("coordinator")["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(env.client.app(scope, receive, send))
    assert seen_at_start == [201, 1]
