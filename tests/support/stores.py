"""The `event_store` fixture: every store-facing test runs on DuckDB and on ClickHouse.

Each test gets an empty store: a DuckDB file in its tmp_path, or a fresh ClickHouse database on
the worker's server (tests/support/clickhouse.py), dropped afterwards. `stored_events(store)`
reads every row back as `Event`s with types normalised, whichever store holds them. A test
module uses the fixtures by importing them:
    from tests.support.stores import clickhouse_server, event_store
    __all__ = ["clickhouse_server", "event_store"]  # fixtures
(or the root conftest lists "tests.support.stores" in pytest_plugins).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.events import EVENT_COLUMNS, Event
from footfall.store import DuckDBEventStore, SessionStore
from tests.support.clickhouse import ClickHouseServer, clickhouse_server

STORE_KINDS = ("duckdb", "clickhouse")

# Re-exported: `event_store` needs the server fixture wherever it is used.
__all__ = ["clickhouse_server", "event_store", "stored_events"]


def open_clickhouse_store(server: ClickHouseServer) -> SessionStore:
    """A ClickHouseEventStore on a new, empty database of `server`."""
    from footfall.store.clickhouse import ClickHouseEventStore

    return ClickHouseEventStore(server.fresh_database_url())


def drop_clickhouse_store(store: SessionStore) -> None:
    """Drop the store's database and close it."""
    database = getattr(store, "database", "")
    try:
        store.execute(f"DROP DATABASE IF EXISTS {database}")
    finally:
        store.close()


@pytest.fixture(params=STORE_KINDS)
def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    """An empty event store, once per store kind (test ids end in [duckdb] / [clickhouse])."""
    if request.param == "duckdb":
        duck = DuckDBEventStore(tmp_path / "events.duckdb")
        try:
            yield duck
        finally:
            duck.close()
        return
    server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
    store = open_clickhouse_store(server)
    try:
        yield store
    finally:
        drop_clickhouse_store(store)


def stored_events(store: SessionStore, where: str = "", params: Any = None) -> list[Event]:
    """Every stored row as an Event (ts aware UTC with milliseconds, booleans as bool),
    ordered by time then event_id. `where` is in the store's own SQL dialect."""
    clause = f" WHERE {where}" if where else ""
    columns = list(EVENT_COLUMNS)
    if store.dialect_name == "clickhouse":
        columns[columns.index("event_id")] = "hex(event_id)"
        query = f"SELECT {', '.join(columns)}, ts_ms FROM events{clause} ORDER BY ts_epoch_ms"
        rows = store.execute(query, params)
        events = [_from_clickhouse(row) for row in rows]
    else:
        query = f"SELECT {', '.join(columns)} FROM events{clause} ORDER BY ts"
        rows = store.execute(query, params)
        events = [_from_row(dict(zip(EVENT_COLUMNS, row, strict=True))) for row in rows]
    return sorted(events, key=lambda event: (event.ts, event.event_id))


def _from_clickhouse(row: tuple[Any, ...]) -> Event:
    values = dict(zip(EVENT_COLUMNS, row[:-1], strict=True))
    values["event_id"] = bytes.fromhex(values["event_id"])
    values["ts"] = values["ts"] + timedelta(milliseconds=row[-1])
    return _from_row(values)


def _from_row(values: dict[str, Any]) -> Event:
    values["ts"] = values["ts"].replace(tzinfo=UTC)
    values["event_id"] = bytes(values["event_id"])
    values["is_bot"] = bool(values["is_bot"])
    values["interactive"] = bool(values["interactive"])
    values["props_keys"] = list(values["props_keys"])
    values["props_values"] = list(values["props_values"])
    return Event(**values)
