"""No existence leaks: for every route under /v1 that takes an id (in its path, query or
body), an id that exists in another kommune answers exactly as an id that exists nowhere, in
status and in body (the id itself aside)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.runtime import Service
from geo.gazetteer import Gazetteer
from models.dataset import Dataset
from models.enums import NEEDS
from tests.api.conftest import Env, database_backends, fresh_engine, load, make_keys

MISSING_TEXT = "nowhere-x9"
MISSING_INT = 987654


@dataclass
class World:
    """Records of kommune 727 (`theirs`) probed by callers of kommune 751, and the 751
    records the probes go through (`own`)."""

    env: Env
    theirs: dict[str, Any] = field(default_factory=dict)
    own: dict[str, Any] = field(default_factory=dict)


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def _hold(env: Env, who: str, cid: str, option_id: str) -> str:
    r = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option_id, "kind": "foster"},
        headers=env.auth(who),
    )
    return str(_ok(r, 201)["id"])


def _placement(env: Env, who: str, cid: str, option_id: str) -> int:
    hold = _hold(env, who, cid, option_id)
    _ok(env.client.post(f"/v1/reservations/{hold}/confirm", headers=env.auth(who)))
    rows = _ok(env.client.get(f"/v1/children/{cid}/placements", headers=env.auth(who)))
    return int(next(r["id"] for r in rows if r["status"] == "active"))


def _build(env: Env) -> World:
    w = World(env)
    ds = env.dataset
    national = env.auth("admin")
    made = _ok(
        env.client.post("/v1/keys", json={"role": "admin", "kommuner": ["751"]}, headers=national),
        201,
    )
    env.keys["admin_751"] = made["key"]
    key_727 = env.client.post(
        "/v1/keys", json={"role": "coordinator", "kommuner": ["727"]}, headers=national
    )
    w.theirs["key"] = _ok(key_727, 201)["id"]
    # Kommune 727 (Odder): a family with room for any child, two new children, a hold of one
    # and a placement of the other.
    family = {
        "family_id": "wide727",
        "kommune_code": "727",
        "postcode": "8300",
        "level": "specialiseret",
        "places": 6,
        "occupied": 0,
        "min_age": 0,
        "max_age": 22,
        "target_groups": list(NEEDS),
        "acute": True,
        "max_siblings": 3,
        "vacancy_confirmed": date.today().isoformat(),
    }
    _ok(env.client.post("/v1/families", json=family, headers=env.auth("consultant_727")), 201)
    for cid in ("kid727a", "kid727b"):
        child = {
            "child_id": cid,
            "kommune_code": "727",
            "age": 9,
            "support_level": 1,
            "home_postcode": "8300",
        }
        made_child = env.client.post(
            "/v1/children", json=child, headers=env.auth("coordinator_727")
        )
        _ok(made_child, 201)
    w.theirs["child"] = next(c.child_id for c in ds.children if c.kommune_code == "727")
    w.theirs["hold"] = _hold(env, "coordinator_727", "kid727a", "wide727")
    w.theirs["placement"] = _placement(env, "coordinator_727", "kid727b", "wide727")
    w.theirs["family"] = "wide727"
    w.theirs["institution"] = next(
        i.institution_id for i in ds.institutions if i.kommune_code == "727"
    )
    w.theirs["sibling_group"] = next(
        c.sibling_group for c in ds.children if c.kommune_code == "727" and c.sibling_group
    )
    kommune_of = {c.child_id: c.kommune_code for c in ds.children}
    in_751 = {p.person_id for p in ds.network if kommune_of[p.child_id] == "751"}
    w.theirs["person"] = next(
        p.person_id
        for p in ds.network
        if kommune_of[p.child_id] == "727" and p.person_id not in in_751
    )
    batch = env.client.post(
        "/v1/batches",
        json={"solver": "greedy", "time_limit": 5},
        headers=env.auth("planner_727"),
    )
    w.theirs["batch"] = _ok(batch, 202)["id"]
    # Kommune 751: the records the probes of body ids go through.
    single = [c.child_id for c in ds.children if c.kommune_code == "751" and not c.sibling_group]
    w.own["family"] = "wide751"
    own_family = family | {"family_id": "wide751", "kommune_code": "751", "postcode": "8000"}
    _ok(env.client.post("/v1/families", json=own_family, headers=env.auth("consultant")), 201)
    w.own["child"] = single[0]
    w.own["placement"] = _placement(env, "coordinator", single[1], "wide751")
    w.own["record"] = _ok(
        env.client.get(f"/v1/children/{single[0]}", headers=env.auth("coordinator"))
    )
    _wait_for_batch(env, w.theirs["batch"])
    return w


def _wait_for_batch(env: Env, batch_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = env.client.get(f"/v1/batches/{batch_id}", headers=env.auth("planner_727"))
        if _ok(r)["status"] in ("done", "failed"):
            return
        time.sleep(0.1)
    raise AssertionError("the batch did not finish")


@pytest.fixture(scope="module", params=database_backends())
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    api_dataset: Dataset,
    gazetteer: Gazetteer,
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("existence")
    engine = fresh_engine(request.param, tmp)
    load(engine, api_dataset)
    keys = make_keys(engine)
    service = Service(engine, gazetteer)
    with TestClient(create_app(service)) as client:
        yield _build(Env(client, keys, api_dataset, engine, service))
    engine.dispose()


def _child_body(w: World, **changes: Any) -> dict[str, Any]:
    return dict(w.own["record"]) | changes


def _family_body(family_id: str) -> dict[str, Any]:
    return {
        "family_id": family_id,
        "kommune_code": "751",
        "postcode": "8000",
        "level": "forstaerket",
        "places": 2,
        "occupied": 0,
        "min_age": 0,
        "max_age": 17,
    }


def _institution_body(institution_id: str) -> dict[str, Any]:
    return {
        "institution_id": institution_id,
        "kommune_code": "751",
        "kind": "opholdssted",
        "postcode": "8000",
        "places": 6,
        "occupied": 0,
        "min_age": 10,
        "max_age": 17,
    }


# (caller, method, path, body) for an id; the id of kommune 727 is `theirs[kind]`.
Probe = Callable[[World, Any], tuple[str, str, str, Any]]
CASES: list[tuple[str, str, Probe]] = [
    (
        "child",
        "GET /v1/children/{id}",
        lambda w, i: ("coordinator", "GET", f"/v1/children/{i}", None),
    ),
    (
        "child",
        "PUT /v1/children/{id}",
        lambda w, i: ("coordinator", "PUT", f"/v1/children/{i}", _child_body(w, child_id=i)),
    ),
    (
        "child",
        "POST /v1/children/{id}/proposals",
        lambda w, i: ("coordinator", "POST", f"/v1/children/{i}/proposals", {"top": 3}),
    ),
    (
        "child",
        "GET /v1/children/{id}/review",
        lambda w, i: ("coordinator", "GET", f"/v1/children/{i}/review", None),
    ),
    (
        "child",
        "GET /v1/children/{id}/placements",
        lambda w, i: ("coordinator", "GET", f"/v1/children/{i}/placements", None),
    ),
    (
        "family",
        "GET /v1/families/{id}",
        lambda w, i: ("consultant", "GET", f"/v1/families/{i}", None),
    ),
    (
        "family",
        "PUT /v1/families/{id}",
        lambda w, i: ("consultant", "PUT", f"/v1/families/{i}", _family_body(i)),
    ),
    (
        "family",
        "PATCH /v1/families/{id}/capacity",
        lambda w, i: (
            "consultant",
            "PATCH",
            f"/v1/families/{i}/capacity",
            {"places": 3, "confirm_vacancy": True},
        ),
    ),
    (
        "family",
        "PATCH /v1/families/{id}/capacity {combination_places}",
        lambda w, i: (
            "consultant",
            "PATCH",
            f"/v1/families/{i}/capacity",
            {"combination_places": 1},
        ),
    ),
    (
        "family",
        "PATCH /v1/families/{id}/capacity {occupied over places}",
        lambda w, i: (
            "consultant",
            "PATCH",
            f"/v1/families/{i}/capacity",
            {"places": 1, "occupied": 9, "paused": True},
        ),
    ),
    (
        "institution",
        "PATCH /v1/families/{institution id}/capacity",
        lambda w, i: ("consultant", "PATCH", f"/v1/families/{i}/capacity", {"places": 3}),
    ),
    (
        "institution",
        "GET /v1/institutions/{id}",
        lambda w, i: ("consultant", "GET", f"/v1/institutions/{i}", None),
    ),
    (
        "institution",
        "PUT /v1/institutions/{id}",
        lambda w, i: ("consultant", "PUT", f"/v1/institutions/{i}", _institution_body(i)),
    ),
    (
        "institution",
        "PATCH /v1/institutions/{id}/capacity",
        lambda w, i: (
            "consultant",
            "PATCH",
            f"/v1/institutions/{i}/capacity",
            {"combination_places": 1, "confirm_vacancy": True},
        ),
    ),
    (
        "hold",
        "GET /v1/reservations/{id}",
        lambda w, i: ("coordinator", "GET", f"/v1/reservations/{i}", None),
    ),
    (
        "hold",
        "POST /v1/reservations/{id}/confirm",
        lambda w, i: ("coordinator", "POST", f"/v1/reservations/{i}/confirm", None),
    ),
    (
        "hold",
        "DELETE /v1/reservations/{id}",
        lambda w, i: ("coordinator", "DELETE", f"/v1/reservations/{i}", None),
    ),
    (
        "child",
        "POST /v1/reservations {child_id}",
        lambda w, i: (
            "coordinator",
            "POST",
            "/v1/reservations",
            {"child_id": i, "option_id": w.own["family"]},
        ),
    ),
    (
        "sibling_group",
        "POST /v1/reservations {sibling_group}",
        lambda w, i: (
            "coordinator",
            "POST",
            "/v1/reservations",
            {"sibling_group": i, "option_id": w.own["family"]},
        ),
    ),
    (
        "placement",
        "GET /v1/placements/{id}",
        lambda w, i: ("coordinator", "GET", f"/v1/placements/{i}", None),
    ),
    (
        "placement",
        "POST /v1/placements/{id}/end",
        lambda w, i: ("coordinator", "POST", f"/v1/placements/{i}/end", {"end_reason": "home"}),
    ),
    (
        "placement",
        "POST /v1/placements/{id}/move",
        lambda w, i: (
            "coordinator",
            "POST",
            f"/v1/placements/{i}/move",
            {"option_id": w.own["family"]},
        ),
    ),
    (
        "person",
        "PUT /v1/children/{own} {exclusions[0].option_id: a network person}",
        lambda w, i: (
            "coordinator",
            "PUT",
            f"/v1/children/{w.own['child']}",
            _child_body(w, exclusions=[{"option_id": i, "reason": "probe"}]),
        ),
    ),
    (
        "batch",
        "GET /v1/batches/{id}",
        lambda w, i: ("planner", "GET", f"/v1/batches/{i}", None),
    ),
    (
        "child",
        "POST /v1/batches {child_ids}",
        lambda w, i: ("planner", "POST", "/v1/batches", {"child_ids": [i], "solver": "greedy"}),
    ),
    (
        "child",
        "GET /v1/audit?child_id=",
        lambda w, i: ("admin_751", "GET", f"/v1/audit?child_id={i}", None),
    ),
    ("key", "DELETE /v1/keys/{id}", lambda w, i: ("admin_751", "DELETE", f"/v1/keys/{i}", None)),
]


def _normalised(r: httpx.Response, ident: Any) -> tuple[int, str, Any]:
    """Status, media type and body with the probed id replaced by `{id}`."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(str(ident))}(?![\w-])")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub("{id}", value)
        if isinstance(value, int) and not isinstance(value, bool) and value == ident:
            return "{id}"
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    body = r.json() if r.content else None
    return r.status_code, r.headers.get("content-type", ""), walk(body)


# Known differences, each a strict xfail: fixed, the test says so and the mark goes.
NOT_OURS = (
    "api/services/holds.py option_pool: a network person of another kommune's child is an "
    "option (422 'not an eligible option', or 'is a network person' for another kind) where "
    "an unknown id is 404 'no option'; reported to the lead"
)
GLOBAL_IDS = (
    "ids are shared by all kommuner: an id in use cannot be taken, one nowhere is (201/200); "
    "the refusal shows nothing of the other kommune's record"
)
KNOWN: list[tuple[str, str, Probe, str]] = [
    (
        "person",
        "POST /v1/reservations {option_id: a network person}",
        lambda w, i: (
            "coordinator",
            "POST",
            "/v1/reservations",
            {"child_id": w.own["child"], "option_id": i},
        ),
        NOT_OURS,
    ),
    (
        "person",
        "POST /v1/placements/{own}/move {option_id: a network person}",
        lambda w, i: (
            "coordinator",
            "POST",
            f"/v1/placements/{w.own['placement']}/move",
            {"option_id": i},
        ),
        NOT_OURS.replace(
            "holds.py option_pool", "placements.py move_placement (holds.option_pool)"
        ),
    ),
    # These two change the 751 records when they answer 201/200: they come last.
    (
        "person",
        "PUT /v1/children/{own} {network[n].person_id}",
        lambda w, i: (
            "coordinator",
            "PUT",
            f"/v1/children/{w.own['child']}",
            _child_body(
                w,
                network=[
                    *w.own["record"]["network"],
                    {
                        "person_id": i,
                        "relation": "aunt_uncle",
                        "postcode": "8000",
                        "status": "approved",
                    },
                ],
            ),
        ),
        GLOBAL_IDS,
    ),
    (
        "child",
        "POST /v1/children {child_id}",
        lambda w, i: (
            "coordinator",
            "POST",
            "/v1/children",
            {
                "child_id": i,
                "kommune_code": "751",
                "age": 9,
                "support_level": 1,
                "home_postcode": "8000",
            },
        ),
        GLOBAL_IDS,
    ),
]
# The option_pool differences are fixed: a network person outside the child's unit answers
# as an unknown option.
FIXED = [case for case in KNOWN if case[3].startswith("api/services/holds.py")]
FIXED += [case for case in KNOWN if "move_placement" in case[3]]
PARAMS = (
    [pytest.param(*case, id=case[1]) for case in CASES]
    + [pytest.param(kind, route, probe, id=route) for kind, route, probe, _ in FIXED]
    + [
        pytest.param(kind, route, probe, id=route, marks=pytest.mark.xfail(strict=True, reason=why))
        for kind, route, probe, why in KNOWN
        if (kind, route, probe, why) not in FIXED
    ]
)


@pytest.mark.parametrize(("kind", "route", "probe"), PARAMS)
def test_an_id_of_another_kommune_answers_as_a_missing_one(
    world: World, kind: str, route: str, probe: Probe
) -> None:
    env = world.env
    theirs = world.theirs[kind]
    missing: Any = MISSING_INT if isinstance(theirs, int) else MISSING_TEXT
    answers = []
    for ident in (theirs, missing):
        who, method, url, body = probe(world, ident)
        r = env.client.request(method, url, json=body, headers=env.auth(who))
        answers.append(_normalised(r, ident))
    assert answers[0] == answers[1], route
    assert answers[0][0] in (200, 404, 422), answers[0]


def test_a_network_person_of_another_kommune_is_refused_without_its_record(world: World) -> None:
    """Ids are shared by all kommuner, so another kommune's network person cannot be added to
    a child; the refusal names the id only, never the person's places."""
    env = world.env
    person = world.theirs["person"]
    record = world.own["record"]
    for places in (1, 2, 3):
        body = dict(record) | {
            "network": [
                *record["network"],
                {
                    "person_id": person,
                    "relation": "aunt_uncle",
                    "postcode": "8000",
                    "status": "approved",
                    "places": places,
                },
            ]
        }
        r = env.client.put(
            f"/v1/children/{world.own['child']}", json=body, headers=env.auth("coordinator")
        )
        assert r.status_code == 422, r.text
        n = len(record["network"])
        assert r.json()["errors"] == [
            {
                "path": f"body.network[{n}].person_id",
                "value": person,
                "allowed": "a person_id not in use outside your kommuner",
            }
        ]
