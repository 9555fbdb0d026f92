"""The fast paths of a proposals request keep their guarantees: the child's kommune checked on
the matcher's copy, an audit row committed before every answer (also when several requests
commit together), a key refused from the very next request after its revocation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import sessionmaker

from api.db.engine import session_scope
from api.db.orm import ApiKey, AuditEntry, Base
from api.services.audit_log import AuditLog, AuditNotWritten
from api.services.keys import hash_key, revoke_key
from tests.api.conftest import Env


def _audit_rows(env: Env, child_id: str) -> list[AuditEntry]:
    with sessionmaker(env.engine)() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.child_id == child_id, AuditEntry.action == "child.proposals"
                )
            )
        )


def _child(env: Env, kommune: str) -> str:
    return next(c.child_id for c in env.dataset.children if c.kommune_code == kommune)


def test_proposals_audited_once_per_answer_with_the_callers_key(env: Env) -> None:
    child = _child(env, "751")
    before = len(_audit_rows(env, child))
    for _ in range(3):
        r = env.client.post(
            f"/v1/children/{child}/proposals", json={"top": 5}, headers=env.auth("coordinator")
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["child_id"] == child
    rows = _audit_rows(env, child)
    assert len(rows) == before + 3
    with sessionmaker(env.engine)() as s:
        key_id = s.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(env.keys["coordinator"]))
        )
    assert {(r.key_id, r.role) for r in rows[before:]} == {(key_id, "coordinator")}
    # Stored as every other audit row: an aware UTC time when read back.
    assert all(r.at.tzinfo is not None for r in rows)
    assert abs((datetime.now(UTC) - rows[-1].at).total_seconds()) < 60


def test_a_child_outside_the_kommuner_is_missing_and_not_audited(env: Env) -> None:
    other = _child(env, "727")
    before = len(_audit_rows(env, other))
    outside = env.client.post(
        f"/v1/children/{other}/proposals", json={}, headers=env.auth("coordinator")
    )
    missing = env.client.post(
        "/v1/children/no-such-child/proposals", json={}, headers=env.auth("coordinator")
    )
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["detail"] == f"no child {other!r} in your kommuner"
    assert len(_audit_rows(env, other)) == before
    # The coordinator of 727 gets it (the in-memory check is per kommune, not a blanket no).
    ok = env.client.post(
        f"/v1/children/{other}/proposals", json={}, headers=env.auth("coordinator_727")
    )
    assert ok.status_code == 200 and len(_audit_rows(env, other)) == before + 1


def test_a_revoked_key_is_refused_on_the_next_proposals_request(env: Env) -> None:
    child = _child(env, "751")
    headers = env.auth("coordinator")
    url = f"/v1/children/{child}/proposals"
    assert env.client.post(url, json={}, headers=headers).status_code == 200
    with session_scope(sessionmaker(env.engine)) as s:
        key_id = s.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(env.keys["coordinator"]))
        )
        assert key_id is not None
        revoke_key(s, None, key_id)
    refused = env.client.post(url, json={}, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key is not valid"


def test_a_key_revoked_behind_the_services_back_is_refused_too(env: Env) -> None:
    headers = env.auth("coordinator")
    child = _child(env, "751")
    url = f"/v1/children/{child}/proposals"
    assert env.client.post(url, json={}, headers=headers).status_code == 200
    with sessionmaker(env.engine).begin() as s:
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_key(env.keys["coordinator"]))
            .values(revoked=True)
        )
    assert env.client.post(url, json={}, headers=headers).status_code == 401


def test_concurrent_audit_writes_all_commit(env: Env) -> None:
    log = env.service.audit_log
    moment = datetime.now(UTC)

    def write(n: int) -> None:
        for k in range(10):
            log.write(
                [
                    AuditEntry(
                        at=moment,
                        key_id=None,
                        role="test",
                        action="perf.concurrent",
                        child_id=f"t{n}-{k}",
                        detail="",
                    )
                ]
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sessionmaker(env.engine)() as s:
        ids = set(
            s.scalars(select(AuditEntry.child_id).where(AuditEntry.action == "perf.concurrent"))
        )
    assert ids == {f"t{n}-{k}" for n in range(8) for k in range(10)}


def test_an_audit_that_cannot_be_committed_refuses_the_answer(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/empty.sqlite3")  # no audit table yet
    log = AuditLog(sessionmaker(engine))

    def row(child: str) -> AuditEntry:
        return AuditEntry(
            at=datetime.now(UTC), key_id=1, role="coordinator", action="x", child_id=child
        )

    with pytest.raises(AuditNotWritten):
        log.write([row("refused")])
    # The failure is not sticky, and the refused row was not half-written.
    Base.metadata.create_all(engine, tables=[AuditEntry.__table__])  # type: ignore[list-item]
    log.write([row("kept")])
    with engine.connect() as conn:
        assert list(conn.scalars(select(AuditEntry.child_id))) == ["kept"]


def test_the_event_loops_key_read_sees_a_revocation_at_once(env: Env) -> None:
    key = env.keys["coordinator"]
    found = env.service.principal_inline(key)
    if env.engine.dialect.name != "sqlite":
        assert found is False  # other databases: asked in a worker thread instead
        return
    assert found == env.service.principal(key) and found is not None
    with sessionmaker(env.engine).begin() as s:
        s.execute(update(ApiKey).where(ApiKey.key_hash == hash_key(key)).values(revoked=True))
    assert env.service.principal_inline(key) is None
    assert env.service.principal_inline("pk_no-such-key") is None
