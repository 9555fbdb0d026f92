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
three times the INSERT and COMMIT themselves."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from api.db.orm import AuditEntry

__all__ = ["AuditLog", "AuditNotWritten"]

WAIT_SECONDS = 30.0
_COLUMNS = ("at", "key_id", "role", "action", "child_id", "detail")


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
        error: BaseException | None = None
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                if self._begin is not None:
                    cursor.execute(self._begin)
                cursor.executemany(self._sql, [row for pending in batch for row in pending.rows])
                raw.commit()
                cursor.close()
            finally:
                raw.close()  # the pool rolls back whatever was not committed
        except Exception as exc:  # reported to every waiting request
            error = exc
        for pending in batch:
            pending.error = error
            pending.done = True
