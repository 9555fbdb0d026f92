"""The fast paths of a proposals request keep their guarantees: the child's kommune checked on
the matcher's copy, an audit row committed before every answer (also when several requests
commit together), a key refused from the very next request after its revocation."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
import weakref
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import sessionmaker

from api.db.engine import make_engine, session_scope
from api.db.orm import ApiKey, AuditEntry, Base
from api.http.app import create_app
from api.services import audit_log, children, runtime
from api.services.audit_log import AuditLog, AuditNotWritten
from api.services.errors import NotFound
from api.services.keys import hash_key, revoke_key
from api.services.runtime import Service
from geo.gazetteer import Gazetteer
from matcher.rank import Matcher
from models.dataset import Dataset
from tests.api.conftest import Env, fresh_engine, load, make_keys


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


def _row(child: str, action: str = "perf.locked") -> AuditEntry:
    return AuditEntry(at=datetime.now(UTC), key_id=None, role="test", action=action, child_id=child)


@pytest.fixture
def audit_file(tmp_path: Path) -> tuple[AuditLog, Path]:
    """An audit log on a SQLite file of its own, with the audit table."""
    path = tmp_path / "audit.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=[AuditEntry.__table__])  # type: ignore[list-item]
    return AuditLog(sessionmaker(engine)), path


def _written(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT child_id FROM audit ORDER BY id")]


def test_the_event_loop_waits_for_a_held_write_lock_without_being_blocked(
    audit_file: tuple[AuditLog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds SQLite's write lock while 32 requests want to write their audit
    rows: none answers before its row is committed, and the loop is blocked by them only for
    the few short spins each makes at first (counted as the sleeps made on the loop's thread), not
    for as long as the lock is held."""
    log, path = audit_file
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    blocking: list[float] = []
    real_sleep = time.sleep
    loop_thread = threading.get_ident()

    def counted(seconds: float) -> None:
        if threading.get_ident() == loop_thread:
            blocking.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(audit_log.time, "sleep", counted)

    async def scenario() -> None:
        writing = [asyncio.create_task(log.write_async([_row(f"r{k}")])) for k in range(32)]
        for _ in range(20):  # the lock stays held for 20 turns of other work
            await asyncio.sleep(0.005)
            assert not any(task.done() for task in writing)  # no answer yet
        spun = sum(blocking)
        holder.execute("COMMIT")
        await asyncio.wait_for(asyncio.gather(*writing), timeout=20)
        # Each writer spun its few rounds (10 ms) at most, however long the lock stays held.
        most = audit_log._SPIN_ROUNDS * (audit_log._SPIN_SECONDS + audit_log._SPIN_PAUSE_SECONDS)
        assert spun <= 32 * most

    try:
        asyncio.run(scenario())
    finally:
        holder.close()
        log.close()
    assert sorted(_written(path)) == sorted(f"r{k}" for k in range(32))


def test_a_worker_thread_waits_for_a_held_write_lock_and_then_commits(
    audit_file: tuple[AuditLog, Path],
) -> None:
    log, path = audit_file
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    writer = threading.Thread(target=log.write, args=([_row("after the lock")],))
    writer.start()
    writer.join(timeout=0.2)
    try:
        assert writer.is_alive()  # still waiting for the lock
        assert _written(path) == []
    finally:
        holder.execute("COMMIT")
        holder.close()
    writer.join(timeout=20)
    log.close()
    assert not writer.is_alive()
    assert _written(path) == ["after the lock"]


def test_an_audit_row_on_the_loop_that_fails_refuses_the_answer(tmp_path: Path) -> None:
    path = tmp_path / "no_table.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    log = AuditLog(sessionmaker(engine))
    with pytest.raises(AuditNotWritten):
        asyncio.run(log.write_async([_row("refused")]))
    # Nothing half-written, no transaction (and no write lock) left open, and not sticky.
    Base.metadata.create_all(engine, tables=[AuditEntry.__table__])  # type: ignore[list-item]
    asyncio.run(log.write_async([_row("kept")]))
    assert _written(path) == ["kept"]
    log.close()
    with pytest.raises(AuditNotWritten):  # closed: refused, not written on a new connection
        asyncio.run(log.write_async([_row("late")]))
    assert _written(path) == ["kept"]


def test_proposals_on_the_event_loop_are_the_matchers_ranking_and_audited(env: Env) -> None:
    """The loop's path against the matcher's own ranking: made fresh (in a worker thread),
    then given again kept (on the loop), and the sync path's answer; one audit row each."""
    service = env.service
    who = service.principal(env.keys["coordinator"])
    assert who is not None
    today = date.today()
    for cid in [c.child_id for c in env.dataset.children if c.kommune_code == "751"][:4]:
        expected = service.matcher().rank(cid, top=7, as_of=today).as_dict()
        fresh = asyncio.run(children.proposals_async(service, who, cid, top=7))
        kept = asyncio.run(children.proposals_async(service, who, cid, top=7))
        why_not = asyncio.run(children.proposals_async(service, who, cid, top=7, why_not=True))
        assert fresh.as_dict() == kept.as_dict() == expected
        assert why_not.as_dict()["proposals"] == expected["proposals"]
        assert children.proposals(service, who, cid, top=7).as_dict() == expected
        assert len(_audit_rows(env, cid)) == 4
    outside = _child(env, "727")
    for child in (outside, "no-such-child"):
        with pytest.raises(NotFound):
            asyncio.run(children.proposals_async(service, who, child, top=7))
        assert _audit_rows(env, child) == []


def test_proposals_on_the_event_loop_see_a_change_at_once(env: Env) -> None:
    """A change commits a counter bump: the loop's path finds its matcher stale and gives the
    refreshed ranking, not the one it kept."""
    service = env.service
    who = service.principal(env.keys["coordinator"])
    assert who is not None
    cid = next(
        c.child_id for c in env.dataset.children if c.kommune_code == "751" and not c.sibling_group
    )
    before = asyncio.run(children.proposals_async(service, who, cid, top=50))
    first = next(p for p in before.as_dict()["proposals"] if p["kind"] == "foster")
    answer = env.client.patch(
        f"/v1/families/{first['option_id']}/capacity",
        json={"paused": True},
        headers=env.auth("consultant"),
    )
    assert answer.status_code == 200, answer.text
    after = asyncio.run(children.proposals_async(service, who, cid, top=50))
    assert first["option_id"] not in {p["option_id"] for p in after.as_dict()["proposals"]}


def test_the_matcher_is_built_before_the_first_request(
    tmp_path: Path, api_dataset: Dataset, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    real = Matcher.__init__

    def counting(self: Matcher, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(Matcher, "__init__", counting)
    engine = fresh_engine("sqlite", tmp_path)
    load(engine, api_dataset)
    keys = make_keys(engine)
    with TestClient(create_app(Service(engine, gazetteer))) as client:
        assert built == [1]  # by the server's start
        child = next(c.child_id for c in api_dataset.children if c.kommune_code == "751")
        answer = client.post(
            f"/v1/children/{child}/proposals",
            json={"top": 3},
            headers={"Authorization": f"Bearer {keys['coordinator']}"},
        )
        assert answer.status_code == 200
        assert built == [1]  # not again by the request
    engine.dispose()


def test_a_matcher_is_built_with_the_collector_paused(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its records and tables are long-lived and without cycles (`matcher.heap`)."""
    seen: list[bool] = []
    real = Matcher.__init__

    def watched(self: Matcher, *args: Any, **kwargs: Any) -> None:
        seen.append(gc.isenabled())
        real(self, *args, **kwargs)

    monkeypatch.setattr(Matcher, "__init__", watched)
    with sessionmaker(env.engine).begin() as session:
        Service.bump(session, "structure")
    env.service.matcher()
    assert seen == [False]
    assert gc.isenabled()


class _Node:
    """Something that only the cyclic collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def test_a_rebuilt_matcher_lets_the_old_one_go(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heap is frozen after each build (`_settle_heap`) and unfrozen at the next: the
    cycles an old matcher held are collected then, not kept for the life of the process."""
    monkeypatch.setattr(runtime, "SETTLE_FROM_OPTIONS", 0)
    service = env.service

    def rebuild() -> Matcher:
        with sessionmaker(env.engine).begin() as session:
            Service.bump(session, "structure")
        return service.matcher()

    try:
        old = rebuild()
        node = _Node()
        old.__dict__["_test_cycle"] = node
        runtime._settle_heap(freeze=True)  # as if the node had come with the build: frozen
        assert not any(o is node for o in gc.get_objects())  # the collector no longer sees it
        gone = weakref.ref(node)
        del node, old
        rebuild()
        assert gone() is None
    finally:
        gc.unfreeze()
