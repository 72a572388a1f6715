"""FOOTFALL_RETENTION_MONTHS: whole months older than the period are deleted by the writer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from footfall.events import Event
from footfall.pipeline.steps import Enricher
from footfall.pipeline.writer import Writer
from footfall.queue.spool import Spool
from footfall.store import SessionStore
from footfall.store.base import RetainingStore, retention_cutoff
from footfall.store.duckdb import DuckDBEventStore
from tests.support.stores import clickhouse_server, event_store

__all__ = ["clickhouse_server", "event_store"]  # fixtures


@pytest.mark.parametrize(
    ("now", "months", "cutoff"),
    [
        (datetime(2026, 11, 23, 5, tzinfo=UTC), 12, datetime(2025, 11, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), 1, datetime(2025, 12, 1, tzinfo=UTC)),
        (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), 2, datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 24, datetime(2024, 12, 1, tzinfo=UTC)),
    ],
)
def test_retention_cutoff_keeps_the_current_month_and_the_months_before(
    now: datetime, months: int, cutoff: datetime
) -> None:
    assert retention_cutoff(now, months) == cutoff


def event(ts: datetime, number: int) -> Event:
    return Event(
        event_id=number.to_bytes(16, "big"),
        ts=ts,
        site_id=1,
        name="pageview",
        kind="pageview",
        visitor_id=number,
        session_id=number,
    )


def test_writer_deletes_events_older_than_the_retention_period(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    now = datetime.now(UTC)
    kept_edge = retention_cutoff(now, 2)
    store.insert(
        [
            event(kept_edge - timedelta(days=40), 1),
            event(kept_edge - timedelta(seconds=1), 2),
            event(kept_edge, 3),
            event(now - timedelta(minutes=5), 4),
        ]
    )
    spool = Spool(tmp_path / "spool", segment_bytes=1 << 20, max_bytes=1 << 30, fsync_interval=1)
    writer = Writer(
        spool,
        store,
        Enricher(secret_key=b"k"),
        flush_interval=0.05,
        retention_months=2,
    )
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if store.execute("SELECT count(*) FROM events")[0][0] == 2:
                break
            time.sleep(0.05)
        remaining = sorted(row[0] for row in store.execute("SELECT visitor_id FROM events"))
        assert remaining == [3, 4]
    finally:
        writer.stop()
        spool.close()
        store.close()


def test_both_stores_delete_whole_months_before_the_cutoff(event_store: SessionStore) -> None:
    assert isinstance(event_store, RetainingStore)
    cutoff = datetime(2026, 9, 1, tzinfo=UTC)
    old = [event(datetime(2026, 7, 15, 12, tzinfo=UTC), 1), event(cutoff - timedelta(hours=1), 2)]
    kept = [event(cutoff, 3), event(datetime(2026, 11, 20, tzinfo=UTC), 4)]
    event_store.insert(old + kept)
    assert event_store.delete_before(cutoff) == 2
    remaining = sorted(row[0] for row in event_store.execute("SELECT visitor_id FROM events"))
    assert remaining == [3, 4]
    assert event_store.delete_before(cutoff) == 0
