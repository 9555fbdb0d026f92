"""Group-committed audit rows for read routes.

A read of a child's record must leave an audit row before the data leaves the server, but on
SQLite every write transaction takes the one write lock. Read routes therefore run in a
read-only transaction and hand their audit rows to one writer thread, which commits the rows
of all requests waiting at that moment in a single transaction; each request waits for its
rows' commit before it answers, so no data is ever returned unaudited."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from api.db.engine import session_scope
from api.db.orm import AuditEntry

__all__ = ["AuditLog", "AuditNotWritten"]

WAIT_SECONDS = 30.0


class AuditNotWritten(RuntimeError):
    """The audit rows could not be committed: the request must not return its data."""


@dataclass
class _Pending:
    rows: list[AuditEntry]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def write(self, rows: list[AuditEntry]) -> None:
        """Commit the rows (with whatever else is waiting); raises AuditNotWritten."""
        if not rows:
            return
        self._ensure_thread()
        pending = _Pending(rows)
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise AuditNotWritten(f"audit rows not committed within {WAIT_SECONDS:.0f} s")
        if pending.error is not None:
            raise AuditNotWritten(f"audit rows not committed: {type(pending.error).__name__}")

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            error: BaseException | None = None
            try:
                with session_scope(self._sessions) as session:
                    session.add_all([row for pending in batch for row in pending.rows])
            except Exception as exc:  # reported to every waiting request
                error = exc
            for pending in batch:
                pending.error = error
                pending.done.set()
