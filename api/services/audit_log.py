"""Group-committed audit rows for read routes.

A read of a child's record must leave an audit row before the data leaves the server, but on
SQLite every write transaction takes the one write lock. Read routes therefore run in a
read-only transaction and hand their audit rows to `AuditLog.write`, which commits the rows
of all requests waiting at that moment in a single transaction; each request waits for its
rows' commit before it answers, so no data is ever returned unaudited.

The commit is made by the first waiting request's own thread (the leader), not by a writer
thread: alone, a request commits its row at once, without handing it to another thread and
waiting to be woken (two thread switches, which on a busy machine cost more than the commit);
under load, whoever takes the commit lock next commits every row queued meanwhile. Rows go
in through one INSERT on the driver's own connection, its values converted by the column
types as the ORM would store them: the ORM's unit of work, and even a Core statement, cost
three times the INSERT and COMMIT themselves.

On SQLite the rows go in on a connection of the log's own that never waits for the write
lock (`_write_now`). A caller on the event loop (`write_async`) commits its rows at once when
the lock is free that instant (some 40 microseconds, no thread hop); while another
connection or worker process holds it, the caller tries again during 2 ms, then after a
turn of the loop, a few times, then only after pauses in which the loop serves others. A
worker thread (`write`) tries again after pauses far shorter than SQLite's own busy
handler's (1, 2, 5, 10 ms ...). On PostgreSQL the rows go to `write` in a worker thread.
Never does a caller on the loop wait there for a lock beyond 10 ms in all, and never does
anyone answer before its rows are committed. (A commit that crosses SQLite's checkpoint
threshold also copies the log into the database file: measured at most 6 ms, once in some
hundreds of commits.)"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from api.db.orm import AuditEntry

__all__ = ["AuditLog", "AuditNotWritten"]

WAIT_SECONDS = 30.0
# `_commit_polling`'s pauses between tries for SQLite's write lock: doubling from the first
# to the longest.
_FIRST_PAUSE_SECONDS = 0.0002
_LONGEST_PAUSE_SECONDS = 0.005
# `write_async` on SQLite, while the write lock is taken: a spin of a few milliseconds on the
# loop (a commit holds the lock for some 40 microseconds, longer when its process is
# descheduled; the pauses hold neither the interpreter nor the database), a turn of the loop
# for the other requests, and again; after `_SPIN_ROUNDS` such rounds (a lock held long: an
# import, a batch) single tries between pauses that double, so that one request never
# stalls the loop for more than `_SPIN_ROUNDS * _SPIN_SECONDS` in all.
_SPIN_SECONDS = 0.002
_SPIN_ROUNDS = 5
_SPIN_PAUSE_SECONDS = 0.0001
_FIRST_YIELD_SECONDS = 0.001
_LONGEST_YIELD_SECONDS = 0.02
_COLUMNS = ("at", "key_id", "role", "action", "child_id", "detail")


def _busy(exc: sqlite3.OperationalError) -> bool:
    """The write lock was taken. By the primary code: SQLITE_BUSY_RECOVERY and its kin are
    busy too."""
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _not_committed(exc: sqlite3.Error) -> AuditNotWritten:
    return AuditNotWritten(f"audit rows not committed: {type(exc).__name__}")


class AuditNotWritten(RuntimeError):
    """The audit rows could not be committed: the request must not return its data."""


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    done: bool = False
    error: BaseException | None = None


class AuditLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        bind = sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("AuditLog needs a sessionmaker bound to an Engine")
        self._engine = bind
        dialect = bind.dialect
        compiled = insert(AuditEntry).compile(dialect=dialect, column_keys=list(_COLUMNS))
        self._sql = compiled.string
        # The driver's parameters: a tuple in statement order or a dict, per its paramstyle.
        self._order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        table = AuditEntry.__table__
        self._convert = {
            c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in _COLUMNS
        }
        # The scalar defaults the ORM would fill in for an attribute left unset (detail="").
        self._defaults = {
            c: default.arg
            for c in _COLUMNS
            if (default := table.c[c].default) is not None and default.is_scalar
        }
        # SQLite runs with the driver's own transactions off (api.db.engine): the write lock is
        # taken at the start, as every write transaction of the app takes it.
        self._begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()  # held for a list operation only
        self._commit_lock = threading.Lock()  # held by the one thread committing
        file = bind.url.database if dialect.name == "sqlite" else None
        # Absolute, as the engine's own path is resolved at its first connection.
        self._now_path = str(Path(file).resolve()) if file and file != ":memory:" else None
        self._now: sqlite3.Connection | None = None
        self._now_lock = threading.Lock()  # its connection: one caller at a time
        self._closed = False

    async def write_async(self, rows: list[AuditEntry]) -> None:
        """`write` for a caller on the event loop (see the module): committed at once when
        the write lock is free, else after spins of 2 ms (10 ms in all at most), else after
        pauses that leave the loop to others; on PostgreSQL in a worker thread. Raises
        AuditNotWritten."""
        if not rows:
            return
        if self._now_path is None:
            await asyncio.to_thread(self.write, rows)
            return
        parameters = [self._parameters(row) for row in rows]
        deadline = time.monotonic() + WAIT_SECONDS
        pause = _FIRST_YIELD_SECONDS
        rounds = 0
        while not self._spin(parameters, _SPIN_SECONDS if rounds < _SPIN_ROUNDS else 0.0):
            rounds += 1
            if time.monotonic() > deadline:
                raise AuditNotWritten(f"the database stayed locked for {WAIT_SECONDS:.0f} s")
            await asyncio.sleep(pause)
            if rounds >= _SPIN_ROUNDS:
                pause = min(pause * 2, _LONGEST_YIELD_SECONDS)

    def _spin(self, parameters: list[Any], seconds: float) -> bool:
        """`_write_now`, tried again after short pauses during `seconds` (once if 0)."""
        until = time.perf_counter() + seconds
        while not self._write_now(parameters):
            if time.perf_counter() >= until:
                return False
            time.sleep(_SPIN_PAUSE_SECONDS)
        return True

    def _write_now(self, parameters: list[Any]) -> bool:
        """Commit the rows on this log's own SQLite connection if its write lock is free this
        instant; False (nothing written) if it is not. Raises AuditNotWritten on any other
        failure, with nothing written; a connection in doubt is closed and made anew at the
        next call, so that it never keeps a transaction (and the write lock) open."""
        if not self._now_lock.acquire(blocking=False):
            return False
        try:
            if self._closed:
                raise AuditNotWritten("audit rows not committed: the audit log is closed")
            try:
                connection = self._now or self._connect()
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                    return False
                self._drop_connection()
                raise _not_committed(exc) from exc
            try:
                connection.executemany(self._sql, parameters)
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                except sqlite3.Error:
                    self._drop_connection()
                raise _not_committed(exc) from exc
            return True
        finally:
            self._now_lock.release()

    def _connect(self) -> sqlite3.Connection:
        assert self._now_path is not None
        connection = sqlite3.connect(
            self._now_path,
            isolation_level=None,  # our own BEGIN IMMEDIATE and COMMIT
            check_same_thread=False,
            timeout=0.0,  # never wait for the lock: the caller's loop would stall
        )
        try:
            connection.execute("PRAGMA synchronous=NORMAL")  # as api.db.engine's
            connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            connection.close()
            raise
        self._now = connection
        return connection

    def _drop_connection(self) -> None:
        if self._now is not None:
            self._now.close()  # a transaction left open is rolled back
            self._now = None

    def close(self) -> None:
        """Close the connection of `write_async` (the pool's are the engine's business); a
        later write is refused (AuditNotWritten), not made on a connection nobody closes."""
        with self._now_lock:
            self._closed = True
            self._drop_connection()

    def write(self, rows: list[AuditEntry]) -> None:
        """Commit the rows (with whatever else is waiting); raises AuditNotWritten."""
        if not rows:
            return
        pending = _Pending([self._parameters(row) for row in rows])
        with self._queue_lock:
            self._queue.append(pending)
        if not self._commit_lock.acquire(timeout=WAIT_SECONDS):
            raise AuditNotWritten(f"audit rows not committed within {WAIT_SECONDS:.0f} s")
        try:
            if not pending.done:  # else the previous leader committed ours with its own
                self._commit_waiting()
        finally:
            self._commit_lock.release()
        if pending.error is not None:
            raise AuditNotWritten(f"audit rows not committed: {type(pending.error).__name__}")

    def _parameters(self, row: AuditEntry) -> Any:
        values = {}
        for column, convert in self._convert.items():
            value = getattr(row, column)
            if value is None:
                value = self._defaults.get(column)
            values[column] = value if convert is None else convert(value)
        if self._order is None:
            return values
        return tuple(values[name] for name in self._order)

    def _commit_waiting(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        rows = [row for pending in batch for row in pending.rows]
        error: BaseException | None = None
        try:
            if self._now_path is not None:
                self._commit_polling(rows)
            else:
                self._commit_pooled(rows)
        except Exception as exc:  # reported to every waiting request
            error = exc
        for pending in batch:
            pending.error = error
            pending.done = True

    def _commit_polling(self, rows: list[Any]) -> None:
        """SQLite: `_write_now` until the write lock is free. A commit holds the lock for
        some 40 microseconds, so a short pause between tries gets it soon; SQLite's own busy
        handler sleeps 1, 2, 5, 10, 15 ms ... and with two worker processes committing
        several hundred times a second, the 7 % of requests that met the lock taken waited
        39 ms (median) to 240 ms for it."""
        deadline = time.monotonic() + WAIT_SECONDS
        pause = _FIRST_PAUSE_SECONDS
        while not self._write_now(rows):
            if time.monotonic() > deadline:
                raise AuditNotWritten(f"the database stayed locked for {WAIT_SECONDS:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)

    def _commit_pooled(self, rows: list[Any]) -> None:
        """PostgreSQL (or SQLite in memory): a pooled connection, which waits for locks as
        the driver does."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self._begin is not None:
                cursor.execute(self._begin)
            cursor.executemany(self._sql, rows)
            raw.commit()
            cursor.close()
        finally:
            raw.close()  # the pool rolls back whatever was not committed
