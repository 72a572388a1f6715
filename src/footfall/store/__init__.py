"""The store package: opens the event store named by FOOTFALL_EVENTS_URL.

`duckdb:///path` is the embedded store, `clickhouse://host:9000/db` the scale-out one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from footfall.settings import Settings, url_scheme
from footfall.store.base import EventStore
from footfall.store.duckdb import DuckDBEventStore, StoreLockedError

VISIT_CLOSE_MARGIN = timedelta(minutes=5)

__all__ = [
    "DuckDBEventStore",
    "EventStore",
    "SessionStore",
    "StoreLockedError",
    "open_event_store",
]


class SessionStore(EventStore, Protocol):
    """An event store the writer can resume from: it also lists recent sessions."""

    def recent_sessions(self, since: datetime) -> list[tuple[int, int, int, int]]:
        """(site_id, visitor_id, session_id, last ts in epoch ms) of sessions seen since then,
        to restore the sessionizer after a restart."""
        ...


def open_event_store(settings: Settings) -> SessionStore:
    """Open (creating the schema, and for ClickHouse the database, when new) the event store
    of `settings.events_url`.

    Raises ValueError for a URL no store handles, StoreLockedError when another process has
    the DuckDB file open, and clickhouse-driver's errors when ClickHouse cannot be reached.
    """
    scheme = url_scheme(settings.events_url)
    if scheme == "duckdb":
        # Visits are rolled up once idle for the session timeout plus a margin for slow clients.
        close_after = timedelta(seconds=settings.session_timeout) + VISIT_CLOSE_MARGIN
        return DuckDBEventStore(settings.duckdb_path, visit_close_after=close_after)
    if scheme == "clickhouse":
        # Imported here: the embedded mode never pays for loading the ClickHouse driver.
        from footfall.store.clickhouse import ClickHouseEventStore

        return ClickHouseEventStore(
            settings.events_url,
            cluster=settings.clickhouse_cluster,
            replicated=settings.clickhouse_replicated,
        )
    raise ValueError(
        f"FOOTFALL_EVENTS_URL={settings.events_url!r}: unknown event store scheme {scheme!r}; "
        "expected duckdb:///<file> or clickhouse://<host>:<port>/<database>"
    )
