"""Database engine and sessions: SQLite file under var/ by default (WAL), PostgreSQL by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "DATABASE_ENV",
    "DbSession",
    "database_url",
    "make_engine",
    "rows_changed",
    "session_scope",
]

# The session type that the layers above name without importing SQLAlchemy themselves.
DbSession = Session

DATABASE_ENV = "PLACEMENT_DATABASE_URL"
DEFAULT_SQLITE = Path("var") / "placement.sqlite3"


def database_url(url: str | None = None) -> str:
    chosen = url or os.environ.get(DATABASE_ENV)
    if chosen:
        if chosen.startswith("postgresql://"):
            chosen = "postgresql+psycopg://" + chosen.removeprefix("postgresql://")
        return chosen
    DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE}"


def make_engine(url: str | None = None, pool_size: int = 10) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
        )
        _sqlite_serialised_writes(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=2 * pool_size)


def _sqlite_serialised_writes(engine: Engine) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so a transaction takes the write lock at
    its start and never fails half-way on a lock upgrade (the SQLAlchemy SQLite recipe)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the database; a power cut may lose the last
        # commits, not the file. FULL would fsync on every request's audit row.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Read routes (api.http.deps.read_only) never write in their transaction: a deferred
        # BEGIN lets them run beside a writer under WAL.
        if conn.get_execution_options().get("placement_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed on success, rolled back whole on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def rows_changed(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE (the conditional UPDATEs that decide races)."""
    return int(cast(CursorResult[Any], result).rowcount)
