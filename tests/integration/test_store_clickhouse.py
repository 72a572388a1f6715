"""The ClickHouse event store on a real clickhouse-server: schema, milliseconds, migrations,
URLs, validation of rows, dedupe across partitions and concurrent use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from footfall.events import EVENT_COLUMNS, Event
from footfall.settings import Settings
from footfall.store import SessionStore, open_event_store
from footfall.store.clickhouse import ClickHouseEventStore
from footfall.store.clickhouse_schema import COLUMN_TYPES
from tests.support import factories
from tests.support.app import running_app
from tests.support.clickhouse import SERVER_TIMEZONE, ClickHouseServer
from tests.support.server import free_port
from tests.support.stores import clickhouse_server, drop_clickhouse_store, stored_events

__all__ = ["clickhouse_server"]  # fixture

T0 = datetime(2025, 5, 31, 23, 59, 59, 995000, tzinfo=UTC)


@pytest.fixture
def store(clickhouse_server: ClickHouseServer) -> Iterator[ClickHouseEventStore]:
    opened = ClickHouseEventStore(clickhouse_server.fresh_database_url())
    try:
        yield opened
    finally:
        drop_clickhouse_store(opened)


def test_schema_is_a_monthly_mergetree_sorted_for_site_and_time(
    store: ClickHouseEventStore,
) -> None:
    [(engine, partition_key, sorting_key)] = store.execute(
        "SELECT engine, partition_key, sorting_key FROM system.tables "
        "WHERE database = %(db)s AND name = 'events'",
        {"db": store.database},
    )
    assert engine == "MergeTree"
    assert partition_key == "toYYYYMM(ts)"
    assert sorting_key.replace(" ", "") == "site_id,toDate(ts),visitor_id,ts"
    columns = {row[0]: row[1] for row in store.execute("DESCRIBE TABLE events")}
    assert list(columns) == [*EVENT_COLUMNS, "ts_ms", "ts_epoch_ms"]
    assert columns["ts"] == "DateTime('UTC')"
    assert columns["event_id"] == "FixedString(16)"
    assert columns["revenue_amount"] == "Nullable(Decimal(18, 4))"
    assert columns["props_keys"] == columns["props_values"] == "Array(String)"


def test_milliseconds_survive_and_results_read_like_duckdb(store: ClickHouseEventStore) -> None:
    first = factories.pageview(ts=T0)
    second = factories.pageview(ts=T0 + timedelta(milliseconds=7))  # next day, next month
    factories.populate(store, [second, first])
    assert store.execute(
        "SELECT ts, ts_ms, ts_epoch_ms, toStartOfHour(ts, 'Asia/Kolkata') FROM events "
        "ORDER BY ts_epoch_ms"
    ) == [
        (datetime(2025, 5, 31, 23, 59, 59), 995, 1748735999995, datetime(2025, 6, 1, 5, 0)),
        (datetime(2025, 6, 1, 0, 0, 0), 2, 1748736000002, datetime(2025, 6, 1, 5, 0)),
    ]
    partitions = store.execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s "
        "AND table = 'events' AND active ORDER BY partition",
        {"db": store.database},
    )
    assert partitions == [("202505",), ("202506",)]


def test_dedupe_spans_partitions(store: ClickHouseEventStore) -> None:
    batch = [factories.pageview(ts=T0), factories.pageview(ts=T0 + timedelta(seconds=1))]
    store.insert(batch[:1])  # as if a crash cut the batch after its first month
    assert store.insert(batch, dedupe=True) == 1
    assert store.insert(batch, dedupe=True) == 0
    assert store.insert(batch) == 2  # without dedupe nothing is looked up
    assert len(stored_events(store)) == 4


def test_rows_outside_the_column_types_are_skipped(
    store: ClickHouseEventStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = factories.pageview()
    bad = [
        factories.pageview(ts=datetime(1969, 12, 31, tzinfo=UTC)),
        factories.pageview(site_id=-1),
        factories.pageview(screen_width=2**31),
        factories.pageview(event_id=b"short"),
        factories.conversion("Buy", "100000000000000", "EUR"),
        msgspec.structs.replace(factories.pageview(), link_id=None),
    ]
    with caplog.at_level(logging.ERROR, logger="footfall.store.clickhouse"):
        assert store.insert([*bad, good]) == 1
    assert stored_events(store) == [good]
    assert len(caplog.records) == len(bad)


def test_an_older_table_gains_the_new_columns(clickhouse_server: ClickHouseServer) -> None:
    url = clickhouse_server.fresh_database_url()
    first = ClickHouseEventStore(url)
    try:
        first.execute("ALTER TABLE events DROP COLUMN platform")
        first.execute("ALTER TABLE events DROP COLUMN engagement_ms")
        # As a release from before the schema migrations left it (test_clickhouse_migrations.py).
        first.execute("DROP TABLE schema_migrations")
        reopened = ClickHouseEventStore(url)
        try:
            described = reopened.execute("DESCRIBE TABLE events")
            columns = [(row[0], row[1]) for row in described if row[0] in COLUMN_TYPES]
            assert columns == list(COLUMN_TYPES.items())
            row = factories.pageview(platform="android", engagement_ms=5)
            factories.populate(reopened, [row])
            assert stored_events(reopened) == [row]
        finally:
            reopened.close()
    finally:
        drop_clickhouse_store(first)


def test_open_event_store_creates_the_database(
    clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    url = clickhouse_server.fresh_database_url()
    settings = Settings.load(
        environ={"FOOTFALL_DATA_DIR": str(tmp_path)}, overrides={"events_url": url}
    )
    store = open_event_store(settings)
    try:
        assert store.dialect_name == "clickhouse"
        assert store.position() is None
        factories.populate(store, [factories.pageview()])
        assert store.checkpoint() is None
        store.insert([factories.pageview()], position="7:100")
        store.insert([], position="7:180")  # a batch of rows all skipped still moves on
        assert store.position() == store.checkpoint() == "7:180"
        reopened = open_event_store(settings)
        try:
            assert reopened.position() == "7:180"
        finally:
            reopened.close()
        assert store.execute("SELECT currentDatabase(), count() FROM events") == [
            (url.rsplit("/", 1)[1], 2)
        ]
    finally:
        drop_clickhouse_store(store)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("clickhouse://127.0.0.1:9000", "the path must name the database"),
        ("clickhouse://127.0.0.1:9000/", "the path must name the database"),
        ("clickhouse://127.0.0.1:9000/events;DROP", "the path must name the database"),
        ("clickhouse:///footfall", "names no host"),
        ("clickhouse://127.0.0.1:port/footfall", "bad port"),
        ("http://127.0.0.1:8123/footfall", "expected clickhouse://"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClickHouseEventStore(url)


def test_unknown_schemes_name_both_stores(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"FOOTFALL_DATA_DIR": str(tmp_path), "FOOTFALL_EVENTS_URL": "mysql://x/y"}
    )
    with pytest.raises(ValueError, match="clickhouse://"):
        open_event_store(settings)


def test_an_unreachable_server_fails_loudly() -> None:
    from clickhouse_driver.errors import NetworkError

    with pytest.raises(NetworkError):
        ClickHouseEventStore(f"clickhouse://127.0.0.1:{free_port()}/footfall")


def test_readers_and_the_writer_share_the_store_from_threads(store: ClickHouseEventStore) -> None:
    batches = [
        [factories.pageview(visitor_id=batch * 100 + index) for index in range(50)]
        for batch in range(10)
    ]
    counts: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                [(count,)] = store.execute("SELECT count() FROM events")
                counts.append(int(count))
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(6)]
    for reader in readers:
        reader.start()
    for batch in batches:
        store.insert(batch)
    for reader in readers:
        reader.join()
    assert errors == []
    assert all(count % 50 == 0 for count in counts)  # a batch is visible whole or not at all
    assert store.execute("SELECT count(), uniqExact(visitor_id) FROM events") == [(500, 500)]


def test_time_parameters_mean_the_same_instant_whatever_the_server_zone(
    store: ClickHouseEventStore,
) -> None:
    assert store.execute("SELECT timezone()") == [(SERVER_TIMEZONE,)]
    factories.populate(
        store, [factories.pageview(ts=T0), factories.pageview(ts=T0 + timedelta(hours=1))]
    )
    paris = timezone(timedelta(hours=2))
    boundary = (T0 + timedelta(minutes=30)).astimezone(paris)
    sql = "SELECT count() FROM events WHERE ts >= toDateTime(%(t)s, 'UTC')"
    assert store.execute(sql, {"t": boundary}) == [(1,)]
    assert store.execute(sql, {"t": boundary.astimezone(UTC).replace(tzinfo=None)}) == [(1,)]
    assert store.execute(sql, {"t": int(boundary.timestamp())}) == [(1,)]
    recent = store.recent_sessions(T0 + timedelta(minutes=30))
    assert [last for *_, last in recent] == [int((T0 + timedelta(hours=1)).timestamp() * 1000)]


def test_the_app_collects_into_clickhouse_and_resumes_without_duplicates(
    clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    url = clickhouse_server.fresh_database_url()
    page = {"n": "pageview", "d": "example.com"}
    try:
        with running_app(tmp_path, events_url=url) as (client, app):
            for index in range(3):
                page_url = f"https://example.com/first/{index}"
                assert client.post("/api/event", json={**page, "u": page_url}).status_code == 202
            first = wait_for_events(app.state.store, 3)
        with running_app(tmp_path, sites=(), events_url=url) as (client, app):
            page_url = "https://example.com/second"
            assert client.post("/api/event", json={**page, "u": page_url}).status_code == 202
            stored = wait_for_events(app.state.store, 4)
            assert app.state.store.position() is not None
    finally:
        drop_clickhouse_store(ClickHouseEventStore(url))
    assert stored[:3] == first
    assert [event.pathname for event in stored] == [
        "/first/0",
        "/first/1",
        "/first/2",
        "/second",
    ]


def wait_for_events(store: SessionStore, count: int, timeout: float = 15) -> list[Event]:
    """Poll until `count` rows are stored (the writer flushes asynchronously); more fails."""
    deadline = time.monotonic() + timeout
    while True:
        found = stored_events(store)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.05)
