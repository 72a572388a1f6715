"""Engines and sessions for the metadata database (SQLite embedded, PostgreSQL scale-out)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

# How long a SQLite connection waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000

# Execution option: `{BEGIN_OPTION: "IMMEDIATE"}` takes SQLite's write lock when the transaction
# starts, so a read-then-write transaction waits for other writers instead of failing midway.
BEGIN_OPTION = "footfall_sqlite_begin"


def database_url(url: str) -> URL:
    """Parse a metadata URL, choosing the psycopg 3 driver for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An Engine for a `sqlite:///path` or `postgresql://...` URL.

    SQLite runs in WAL mode (readers never block the writer), waits on locks instead of failing
    at once, enforces foreign keys (migrations turn that off while tables are rebuilt) and
    may be shared across threads. SQLAlchemy, not the sqlite3 module, emits BEGIN so that every
    statement, DDL and SAVEPOINT included, runs inside the transaction it belongs to (see
    BEGIN_OPTION for write transactions that read first).
    """
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 module's own transaction handling skips BEGIN for DDL and SAVEPOINT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back when it raises.

    Objects stay readable after the commit, since they are handed back to callers.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
