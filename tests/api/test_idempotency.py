"""Idempotency-Key: the same key with the same body replays the first answer; the same key
with another body is refused (422, reason IDEMPOTENCY_KEY_REUSED) and changes nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import ApiKey, ChildRow, IdempotentResponse
from api.services.keys import hash_key
from api.services.runtime import now
from tests.api.conftest import Env

PROBLEM = "application/problem+json"


def child(child_id: str, age: int = 9) -> dict[str, Any]:
    return {
        "child_id": child_id,
        "kommune_code": "751",
        "age": age,
        "support_level": 1,
        "home_postcode": "8000",
    }


def children_named(env: Env, child_id: str) -> int:
    with sessionmaker(env.engine)() as s:
        found = s.scalar(
            select(func.count()).select_from(ChildRow).where(ChildRow.child_id == child_id)
        )
        return int(found or 0)


def stored(env: Env, key: str) -> IdempotentResponse:
    with sessionmaker(env.engine)() as s:
        return s.scalars(select(IdempotentResponse).where(IdempotentResponse.key == key)).one()


def test_the_same_key_and_body_replay_the_first_answer(env: Env) -> None:
    headers = env.auth("coordinator") | {"Idempotency-Key": "same-1"}
    first = env.client.post("/v1/children", json=child("idem1"), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = env.client.post("/v1/children", json=child("idem1"), headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert children_named(env, "idem1") == 1
    assert len(stored(env, "same-1").body_hash) == 64


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(env: Env) -> None:
    headers = env.auth("coordinator") | {"Idempotency-Key": "same-2"}
    first = env.client.post("/v1/children", json=child("idem2"), headers=headers)
    assert first.status_code == 201, first.text
    for body in (child("idem2", age=10), child("idem3")):
        reused = env.client.post("/v1/children", json=body, headers=headers)
        assert reused.status_code == 422, reused.text
        assert reused.headers["content-type"] == PROBLEM
        problem = reused.json()
        assert problem["reason"] == "IDEMPOTENCY_KEY_REUSED"
        assert problem["status"] == 422 and problem["title"] == "Invalid input"
        assert problem["errors"][0]["path"] == "header.Idempotency-Key"
        assert "Idempotent-Replayed" not in reused.headers
    assert children_named(env, "idem3") == 0
    read = env.client.get("/v1/children/idem2", headers=env.auth("coordinator")).json()
    assert read["age"] == 9
    # The first body still replays.
    again = env.client.post("/v1/children", json=child("idem2"), headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"


def test_the_fingerprint_is_the_body_as_sent(env: Env) -> None:
    """Byte for byte: the same fields re-serialised in another order count as another body
    (a retry resends the same bytes; docs/api-and-security.md#idempotency)."""
    headers = env.auth("coordinator") | {
        "Idempotency-Key": "bytes-1",
        "Content-Type": "application/json",
    }
    body = child("idem4")
    first = env.client.post("/v1/children", content=json.dumps(body), headers=headers)
    assert first.status_code == 201, first.text
    same = env.client.post("/v1/children", content=json.dumps(body), headers=headers)
    assert same.headers.get("Idempotent-Replayed") == "true"
    reordered = json.dumps(dict(reversed(list(body.items()))))
    other = env.client.post("/v1/children", content=reordered, headers=headers)
    assert other.status_code == 422 and other.json()["reason"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_chunked_body_is_fingerprinted_too(env: Env) -> None:
    headers = env.auth("coordinator") | {
        "Idempotency-Key": "chunked-1",
        "Content-Type": "application/json",
    }
    raw = json.dumps(child("idem5")).encode()

    def chunks(data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), 7):
            yield data[i : i + 7]

    first = env.client.post("/v1/children", content=chunks(raw), headers=headers)
    assert first.status_code == 201, first.text
    assert stored(env, "chunked-1").body_hash == hashlib.sha256(raw).hexdigest()
    same = env.client.post("/v1/children", content=raw, headers=headers)
    assert same.headers.get("Idempotent-Replayed") == "true"


def test_answers_stored_before_body_hashes_replay_as_before(env: Env) -> None:
    """Rows from before migration 0004 have no body hash: any body replays them."""
    with sessionmaker(env.engine).begin() as s:
        key_id = s.scalars(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(env.keys["coordinator"]))
        ).one()
        s.add(
            IdempotentResponse(
                key="old-1",
                key_id=key_id,
                route="POST /v1/children",
                status_code=201,
                body={"child_id": "from-before"},
                created_at=now(),
                body_hash="",
            )
        )
    headers = env.auth("coordinator") | {"Idempotency-Key": "old-1"}
    r = env.client.post("/v1/children", json=child("idem6"), headers=headers)
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
    assert r.json() == {"child_id": "from-before"}
    assert children_named(env, "idem6") == 0


def test_keys_are_per_caller_and_route(env: Env) -> None:
    headers = {"Idempotency-Key": "shared-1"}
    a = env.client.post(
        "/v1/children", json=child("idem7"), headers=env.auth("coordinator") | headers
    )
    assert a.status_code == 201
    # Another caller's key of the same name is its own.
    b = env.client.post(
        "/v1/children",
        json=child("idem8") | {"kommune_code": "727", "home_postcode": "8300"},
        headers=env.auth("coordinator_727") | headers,
    )
    assert b.status_code == 201, b.text
    assert "Idempotent-Replayed" not in b.headers
