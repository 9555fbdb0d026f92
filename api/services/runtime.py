"""The running service that the use cases share: the in-memory matcher, audit, the hold
reaper and the batch job runner.

The matcher keeps its option table in memory. Every change bumps a counter in
`data_versions` in the same transaction: `structure` (children, network, options) makes the
next request rebuild the matcher; `capacity` (places, occupied, holds) only reloads the pool
arrays. Counters live in the database, so several server processes stay consistent.

The counters and the caller's key are read on every request with one small query each on
a pooled driver connection (`versions`, `principal`): a few hundredths of a millisecond, where
the ORM session took half a millisecond for each.
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.db.capacity import end_hold, release_held
from api.db.engine import make_engine, rows_changed, session_scope
from api.db.mappers import load_from_db
from api.db.orm import AuditEntry, BatchJob, CapacityPool, DataVersion, Reservation
from api.services.audit_log import AuditLog
from api.services.caller import Principal, Role
from api.services.keys import hash_key
from geo.gazetteer import Gazetteer
from matcher.cohort import run_match
from matcher.heap import collector_paused
from matcher.policy import Policy, PolicySet, load_policy_set
from matcher.rank import Matcher, Ranking

__all__ = ["CachedMatcher", "Service", "Versions", "now"]

log = logging.getLogger("placement.service")


def now() -> datetime:
    return datetime.now(UTC)


# Rankings kept per data version: a coordinator's proposals of the same child, asked again
# while nothing changed, are the same ranking. Only short ones (no why-not list: that one
# holds every option and is read on a case page, not in a loop). `PLACEMENT_RANKINGS_KEPT`
# sets how many (0: none kept, every request ranks).
RANKINGS_KEPT_ENV = "PLACEMENT_RANKINGS_KEPT"
RANKINGS_KEPT = 1024
# A proposal is about 1 KB: longer lists are ranked on every request (at most 50 MB kept).
RANKINGS_TOP_KEPT = 50


def rankings_kept() -> int:
    chosen = os.environ.get(RANKINGS_KEPT_ENV, "").strip()
    return int(chosen) if chosen.isdigit() else RANKINGS_KEPT


class _Rankings:
    """The rankings given for one data version, the most recently asked `kept` of them."""

    def __init__(self, kept: int | None = None) -> None:
        self.kept = rankings_kept() if kept is None else kept
        self._found: OrderedDict[tuple[Any, ...], Ranking] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Ranking | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], ranking: Ranking) -> None:
        with self._lock:
            self._found[key] = ranking
            self._found.move_to_end(key)
            while len(self._found) > self.kept:
                self._found.popitem(last=False)

    def __len__(self) -> int:
        return len(self._found)


def _kept(rankings: _Rankings, top: int | None) -> bool:
    """Whether a ranking with this `top` (and no why-not list) is kept."""
    return top is not None and top <= RANKINGS_TOP_KEPT and rankings.kept > 0


@dataclass
class CachedMatcher:
    """The matcher of one data version, and the rankings it gave (a new version starts with
    none: a capacity change refreshes the same matcher's arrays in place)."""

    matcher: Matcher
    structure: int
    capacity: int
    rankings: _Rankings = field(default_factory=_Rankings)

    def is_at(self, versions: Versions) -> bool:
        """Whether this is the matcher of those counters."""
        return self.structure == versions.structure and self.capacity == versions.capacity


@dataclass(frozen=True)
class Versions:
    """The data version counters at one moment (0 for a counter never bumped)."""

    structure: int
    capacity: int


# A small matcher's collections are short anyway, and a full collection per rebuild would
# cost a test process, which rebuilds hundreds of small ones, more than it saves.
SETTLE_FROM_OPTIONS = 5_000


def _settle_heap(freeze: bool) -> None:
    """After a new matcher: collect the old one, and (`freeze`) exempt the heap from later
    collections.

    A national matcher holds some 150,000 objects that live until the next rebuild, and a
    full collection of the cyclic garbage collector walks them all: 110-150 ms measured, in
    which every request of the process waits (the tail of the proposals' latency). Frozen,
    they are skipped; a full collection then walks only the rankings and requests made since
    (8-30 ms). Whatever was frozen is unfrozen at each rebuild, also one too small to freeze
    again, so an old matcher's cycles (one still held by a request during the collection)
    are collected at the next rebuild at the latest."""
    if not freeze and not gc.get_freeze_count():
        return  # a small matcher, nothing frozen: the collector's own pace is fine
    gc.unfreeze()
    gc.collect()
    if freeze:
        gc.freeze()


class Service:
    def __init__(
        self, engine: Engine, gazetteer: Gazetteer, policy: Policy | PolicySet | None = None
    ):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Read routes: a deferred transaction on SQLite (no write lock), audit rows through
        # the group-committing AuditLog.
        self.read_sessions = sessionmaker(
            engine.execution_options(placement_read_only=True), expire_on_commit=False
        )
        # Its own connection pool: requests hold theirs while they wait for the audit commit,
        # so a shared pool could run dry with the writer still waiting for a connection.
        self._audit_engine = make_engine(
            engine.url.render_as_string(hide_password=False), pool_size=1
        )
        self.audit_log = AuditLog(sessionmaker(self._audit_engine, expire_on_commit=False))
        self.gazetteer = gazetteer
        if policy is None:
            policy = load_policy_set()
        self.policies = policy if isinstance(policy, PolicySet) else PolicySet(policy, forced=True)
        self.policy = self.policies.default
        self._lock = threading.Lock()
        self._cache: CachedMatcher | None = None
        url = engine.url
        file = url.database if url.get_backend_name() == "sqlite" else None
        self._inline_path = str(Path(file).resolve()) if file and file != ":memory:" else None
        self._inline: sqlite3.Connection | None = None
        placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._key_sql = (
            f"SELECT id, role, kommuner, revoked FROM api_keys WHERE key_hash = {placeholder}"
        )
        self.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
        self._reaper: threading.Event | None = None

    # -- versions and the matcher ------------------------------------------------------------
    @staticmethod
    def bump(session: Session, *names: str) -> None:
        for name in names:
            row = session.get(DataVersion, name)
            if row is None:
                session.add(DataVersion(name=name, value=1))
            else:
                session.execute(
                    update(DataVersion)
                    .where(DataVersion.name == name)
                    .values(value=DataVersion.value + 1)
                )
        session.flush()

    def versions(self) -> Versions:
        """The counters as committed now: one query on a pooled driver connection (a
        session, even a Core connection, cost five times the query itself)."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT name, value FROM data_versions")
            values = dict(cursor.fetchall())
            cursor.close()
        finally:
            raw.close()  # back to the pool, which ends the driver's transaction
        return Versions(
            int(values.get("structure", 0)),
            int(values.get("capacity", 0)),
        )

    def principal(self, key: str) -> Principal | None:
        """The caller of an API key, or None for an unknown or revoked key: read from the
        database on every request (one indexed row on a pooled driver connection, as cheap as
        remembering it would be), so a key revoked by any means is refused at once by every
        worker."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(self._key_sql, (hash_key(key),))
            row = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()
        return _principal_of(row)

    def versions_now(self) -> Versions | None:
        """As `versions`, on the event loop's own read-only connection to a SQLite file (see
        `principal_inline`); None when it cannot answer at once."""
        connection = self._inline_connection()
        if connection is None:
            return None
        try:
            values = dict(connection.execute("SELECT name, value FROM data_versions").fetchall())
        except sqlite3.Error:
            return None
        return Versions(int(values.get("structure", 0)), int(values.get("capacity", 0)))

    def _inline_connection(self) -> sqlite3.Connection | None:
        if self._inline_path is None:
            return None
        if self._inline is None:
            try:
                self._inline = sqlite3.connect(
                    f"file:{self._inline_path}?mode=ro",
                    uri=True,
                    isolation_level=None,  # autocommit: each read sees the latest commit
                    check_same_thread=False,
                    timeout=0.0,  # never block the event loop on a lock
                )
            except sqlite3.Error:
                return None
        return self._inline

    def principal_inline(self, key: str) -> Principal | bool | None:
        """As `principal`, on the event loop's own read-only connection to a SQLite file, for
        a caller on the event loop: a read under WAL never waits for a writer, so this takes
        microseconds and spares the request a hop to a worker thread and back. False when it
        cannot answer at once (another database, a busy file): then ask `principal` in a
        worker thread."""
        connection = self._inline_connection()
        if connection is None:
            return False
        try:
            row = connection.execute(self._key_sql, (hash_key(key),)).fetchone()
        except sqlite3.Error:
            return False
        return _principal_of(row)

    @staticmethod
    def _versions(session: Session) -> tuple[int, int]:
        values = dict(session.execute(select(DataVersion.name, DataVersion.value)).all())
        return int(values.get("structure", 0)), int(values.get("capacity", 0))

    def matcher(self, session: Session | None = None) -> Matcher:
        """The matcher for the database's current state (rebuilt or refreshed if stale).

        The counters are read apart from `session` (`versions`): a request that needs only
        the matcher never touches its session's connection, and a stale matcher is rebuilt
        from committed data (`_current`). `session` is accepted for the callers' sake."""
        return self._current(session).matcher

    def rank(
        self,
        child_id: str,
        *,
        top: int | None,
        why_not: bool,
        as_of: date,
        current: CachedMatcher | None = None,
    ) -> Ranking:
        """`Matcher.rank` on the current data (or on `current`, from `current_now`). A short
        ranking (no why-not, `top` at most `RANKINGS_TOP_KEPT`) is kept with the matcher of
        its data version and given again while neither counter moves: the same child asked
        twice is the same ranking, and any write bumps a counter before it commits. Raises
        as the matcher does (`UnknownChild`)."""
        if current is None:
            current = self._current()
        matcher, rankings = current.matcher, current.rankings
        if why_not or not _kept(rankings, top):
            return matcher.rank(child_id, top=top, why_not=why_not, as_of=as_of)
        key = (child_id, top, as_of)
        found = rankings.get(key)
        if found is None:
            found = matcher.rank(child_id, top=top, why_not=False, as_of=as_of)
            rankings.put(key, found)
        return found

    @staticmethod
    def kept_ranking(
        current: CachedMatcher, child_id: str, *, top: int | None, as_of: date
    ) -> Ranking | None:
        """The short ranking `rank` keeps for this question on `current`, if it has it."""
        if not _kept(current.rankings, top):
            return None
        return current.rankings.get((child_id, top, as_of))

    def current_now(self) -> CachedMatcher | None:
        """The shared matcher if it is current, for a caller on the event loop: the counters
        read on the loop's own read-only connection (`versions_now`). None when that cannot
        be answered at once or the matcher is stale: then ask in a worker thread."""
        committed = self.versions_now()
        cache = self._cache
        return (
            cache
            if committed is not None and cache is not None and cache.is_at(committed)
            else None
        )

    def _current(self, session: Session | None = None) -> CachedMatcher:
        """The shared matcher of the committed counters, refreshed from a read session of
        its own when stale. Never from the caller's `session`: a writing use case's session
        may hold bumps not committed (`expire_holds` before a hold is checked), and a
        matcher refreshed from it, with the rankings kept with it, would outlive a rollback.
        (When the matcher is current, such a session always got the committed one anyway.)"""
        committed = self.versions()
        cache = self._cache
        if cache is not None and cache.is_at(committed):
            return cache
        del cache  # an old matcher held here would survive the collection below
        with self.read_sessions() as own:
            current, rebuilt = self._refreshed(own)
        if rebuilt:
            _settle_heap(freeze=len(current.matcher.options) >= SETTLE_FROM_OPTIONS)
        return current

    def _refreshed(self, session: Session) -> tuple[CachedMatcher, bool]:
        """The shared matcher brought up to `session`'s counters, and whether it was built
        anew (rather than its capacity reloaded)."""
        structure, capacity = self._versions(session)
        with self._lock:
            cache = self._cache
            rebuilt = cache is None or cache.structure != structure
            if rebuilt:
                with collector_paused():  # see matcher.heap; settled after (_current)
                    matcher = Matcher(load_from_db(session), self.policies)
                self._load_capacity(session, matcher)
                self._cache = CachedMatcher(matcher, structure, capacity)
            elif cache is not None and cache.capacity != capacity:
                self._load_capacity(session, cache.matcher)
                self._cache = CachedMatcher(cache.matcher, structure, capacity)
            assert self._cache is not None
            return self._cache, rebuilt

    @staticmethod
    def _load_capacity(session: Session, matcher: Matcher) -> None:
        index = matcher.pools.index()
        places = matcher.pools.places.copy()
        occupied = matcher.pools.occupied.copy()
        reserved = np.zeros_like(matcher.pools.reserved)
        for pool_id, p, o, r in session.execute(
            select(
                CapacityPool.pool_id,
                CapacityPool.places,
                CapacityPool.occupied,
                CapacityPool.reserved,
            )
        ):
            i = index.get(pool_id)
            if i is not None:
                places[i], occupied[i], reserved[i] = p, o, r
        # Whole arrays are swapped in, so a concurrent ranking sees old or new, never a mix
        # within one array.
        matcher.pools.places, matcher.pools.occupied, matcher.pools.reserved = (
            places,
            occupied,
            reserved,
        )

    # -- audit --------------------------------------------------------------------------------
    @staticmethod
    def audit(
        session: Session, who: Principal, action: str, child_id: str | None = None, detail: str = ""
    ) -> None:
        session.add(
            AuditEntry(
                at=now(),
                key_id=who.key_id,
                role=who.role.value,
                action=action,
                child_id=child_id,
                detail=detail,
            )
        )

    def audit_read(self, who: Principal, action: str, child_ids: list[str]) -> None:
        """Audit rows of a read route, committed before it answers (see api.services.audit_log)."""
        self.audit_log.write(self._read_entries(who, action, child_ids))

    async def audit_read_async(self, who: Principal, action: str, child_ids: list[str]) -> None:
        """`audit_read` for a caller on the event loop: never blocks it on a lock."""
        await self.audit_log.write_async(self._read_entries(who, action, child_ids))

    @staticmethod
    def _read_entries(who: Principal, action: str, child_ids: list[str]) -> list[AuditEntry]:
        moment = now()
        return [
            AuditEntry(
                at=moment,
                key_id=who.key_id,
                role=who.role.value,
                action=action,
                child_id=child_id,
                detail="",
            )
            for child_id in child_ids
        ]

    # -- holds --------------------------------------------------------------------------------
    def expire_holds(self, session: Session) -> int:
        """Expired holds free their places (each hold exactly once, even under races)."""
        moment = now()
        expired = 0
        for hold in session.scalars(
            select(Reservation).where(Reservation.status == "held", Reservation.expires_at < moment)
        ):
            if end_hold(session, hold.id, "expired"):
                release_held(session, hold.pool_id, hold.places)
                expired += 1
        if expired:
            self.bump(session, "capacity")
        return expired

    def start_reaper(self, every_seconds: float = 10.0) -> None:
        """Free expired holds in the background, so read routes need not write."""
        if self._reaper is not None:
            return
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every_seconds):
                try:
                    with session_scope(self.sessions) as session:
                        self.expire_holds(session)
                except Exception as exc:  # the next round tries again
                    log.warning("expiring holds failed", extra={"error": type(exc).__name__})

        self._reaper = stop
        threading.Thread(target=run, name="hold-reaper", daemon=True).start()

    def stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.set()
            self._reaper = None

    def close(self) -> None:
        """Stop the background work and release the audit writer's connections."""
        self.stop_reaper()
        self.jobs.shutdown(wait=False, cancel_futures=True)
        self.audit_log.close()
        self._audit_engine.dispose()
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    # -- batch jobs ---------------------------------------------------------------------------
    def fail_interrupted_jobs(self) -> int:
        """A job that was queued or running when the server stopped is marked failed."""
        with session_scope(self.sessions) as session:
            result = session.execute(
                update(BatchJob)
                .where(BatchJob.status.in_(("queued", "running")))
                .values(
                    status="failed",
                    stage="interrupted",
                    error="interrupted by a server restart",
                    finished_at=now(),
                )
            )
            return rows_changed(result)

    def submit_batch(self, job_id: str) -> None:
        self.jobs.submit(self._run_batch, job_id)

    def _set(self, job_id: str, **values: Any) -> None:
        with session_scope(self.sessions) as session:
            session.execute(update(BatchJob).where(BatchJob.id == job_id).values(**values))

    def _run_batch(self, job_id: str) -> None:
        try:
            self._set(job_id, status="running", stage="loading", progress=0.1)
            with session_scope(self.sessions) as session:
                params = dict(session.get_one(BatchJob, job_id).params)
                matcher = self.matcher(session)
            self._set(job_id, stage="solving", progress=0.3)
            as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
            result = run_match(
                matcher,
                children=params.get("child_ids") or None,
                kommuner=params.get("kommuner") or None,
                solver=params.get("solver", "auto"),
                time_limit=params.get("time_limit"),
                as_of=as_of,
                allow_sibling_split=bool(params.get("allow_sibling_split")),
                explain_children=params.get("explain_child_ids") or bool(params.get("explain")),
            )
            self._set(
                job_id,
                status="done",
                stage="done",
                progress=1.0,
                result=result.as_dict(),
                finished_at=now(),
            )
        except Exception as exc:  # the job is marked failed, the server goes on
            log.error("batch job failed", extra={"job": job_id, "error": type(exc).__name__})
            self._set(
                job_id, status="failed", stage="failed", error=str(exc)[:500], finished_at=now()
            )


def _principal_of(row: Any) -> Principal | None:
    """The caller of a row (id, role, kommuner, revoked) of api_keys; None if revoked."""
    if row is None or row[3]:
        return None
    return Principal(int(row[0]), Role(row[1]), frozenset(k for k in row[2].split(";") if k))
