"""The DuckDB event store on real files: schema, exact round trips, atomic positions, dedupe,
checkpoints, concurrent readers, the lock error and recovery from a WAL DuckDB cannot replay."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from footfall.events import EVENT_COLUMNS, Event
from footfall.queue import Spool
from footfall.settings import Settings
from footfall.store import DuckDBEventStore, StoreLockedError, open_event_store

ROOT = Path(__file__).resolve().parents[2]
BASE = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def event(index: int, **overrides: object) -> Event:
    """A plain pageview whose id and time follow from `index` (deterministic files)."""
    fields: dict[str, object] = {
        "event_id": index.to_bytes(16, "big"),
        "ts": BASE + timedelta(milliseconds=index),
        "site_id": 1,
        "name": "pageview",
        "kind": "pageview",
        "visitor_id": index,
        "session_id": index,
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def event_from_record(record: bytes) -> Event:
    """Spool records in these tests are the event's index as text."""
    return event(int(record))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    opened = DuckDBEventStore(tmp_path / "events.duckdb")
    yield opened
    opened.close()


def ids(store: DuckDBEventStore) -> list[int]:
    return sorted(
        int.from_bytes(row[0], "big") for row in store.execute("SELECT event_id FROM events")
    )


def test_schema_follows_the_event_struct_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "events.duckdb"
    first = DuckDBEventStore(path)
    assert first.position() is None
    first.insert([event(1)], position="1:9")
    first.close()
    store = DuckDBEventStore(path)
    try:
        described = {row[0]: row[1] for row in store.execute("DESCRIBE events")}
        assert tuple(described) == EVENT_COLUMNS
        assert described["event_id"] == "BLOB"
        assert described["ts"] == "TIMESTAMP"
        assert described["site_id"] == "UINTEGER"
        assert described["visitor_id"] == described["session_id"] == "UBIGINT"
        assert described["props_keys"] == described["props_values"] == "VARCHAR[]"
        assert described["revenue_amount"] == "DECIMAL(18,4)"
        assert store.position() == "1:9"
        assert ids(store) == [1]
    finally:
        store.close()


def test_every_column_reads_back_exactly(store: DuckDBEventStore) -> None:
    berlin = timezone(timedelta(hours=2))
    full = Event(
        event_id=bytes(range(16)),
        ts=datetime(2024, 7, 1, 14, 30, 5, 123000, tzinfo=berlin),
        site_id=4_000_000_000,
        name="Signup",
        kind="conversion",
        visitor_id=2**64 - 1,
        session_id=2**63 + 5,
        user_id="user-42",
        hostname="example.com",
        pathname="/pricing",
        referrer="https://www.google.com/",
        referrer_source="Google",
        channel="Organic Search",
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="spring",
        utm_content="cta",
        utm_term="analytics",
        country="DE",
        region="BE",
        city="Berlin",
        browser="Firefox",
        browser_version="128.0",
        os="Linux",
        os_version="6.1",
        device="Desktop",
        screen_width=1920,
        props_keys=["plan", "emoji", "empty"],
        props_values=["pro", "café ☕", ""],
        revenue_amount=Decimal("1234.5678"),
        revenue_currency="EUR",
        link_id=7,
        campaign_id=8,
        recipient="alice@example.com",
        platform="Android",
        is_bot=True,
        interactive=False,
        scroll_depth=75,
        engagement_ms=12_345,
        batch_id=99,
    )
    assert store.insert([full, event(2)]) == 2
    rows = store.execute("SELECT * FROM events ORDER BY ts DESC")
    stored = dict(zip(EVENT_COLUMNS, rows[0], strict=True))
    expected = {name: getattr(full, name) for name in EVENT_COLUMNS}
    expected["ts"] = datetime(2024, 7, 1, 12, 30, 5, 123000)  # naive UTC
    assert stored == expected
    assert isinstance(stored["revenue_amount"], Decimal)
    plain = dict(zip(EVENT_COLUMNS, rows[1], strict=True))
    assert plain["user_id"] is None
    assert plain["revenue_amount"] is None
    assert plain["props_keys"] == plain["props_values"] == []


class _FailsMidway(Sequence[Event]):
    """A batch whose third row cannot even be produced: the insert must leave no trace."""

    def __init__(self, events: list[Event]) -> None:
        self._events = events

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> Event:  # type: ignore[override]
        if index == 2:
            raise RuntimeError("the batch broke while being written")
        return self._events[index]


def test_a_failed_insert_leaves_rows_and_position_unchanged(store: DuckDBEventStore) -> None:
    store.insert([event(1)], position="1:100")
    with pytest.raises(RuntimeError, match="broke"):
        store.insert(_FailsMidway([event(10), event(11), event(12)]), position="1:200")
    assert store.position() == "1:100"
    assert ids(store) == [1]
    assert store.insert([event(20)], position="1:300") == 1
    assert store.position() == "1:300"


def test_an_unstorable_row_is_skipped_not_the_batch(store: DuckDBEventStore) -> None:
    batch = [event(1), event(2, site_id=-1), event(3, revenue_amount=Decimal("1e30"))]
    assert store.insert([*batch, event(4)], position="2:50") == 2
    assert ids(store) == [1, 4]
    assert store.position() == "2:50"


def test_dedupe_skips_event_ids_already_stored(store: DuckDBEventStore) -> None:
    store.insert([event(index) for index in range(100)])
    replayed = [event(index) for index in range(50, 150)]
    assert store.insert(replayed, position="3:1", dedupe=True) == 50
    assert ids(store) == list(range(150))
    assert store.position() == "3:1"
    assert store.insert([event(200)], dedupe=True) == 1


def test_checkpoint_folds_the_wal_and_returns_its_position(
    store: DuckDBEventStore, tmp_path: Path
) -> None:
    wal = tmp_path / "events.duckdb.wal"
    store.insert([event(index) for index in range(1000)], position="5:123")
    assert wal.exists() and wal.stat().st_size > 0
    assert store.checkpoint() == "5:123"
    assert not wal.exists() or wal.stat().st_size == 0


def test_readers_query_while_the_writer_inserts(store: DuckDBEventStore) -> None:
    batches, per_batch = 20, 500
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for number in range(batches):
                first = number * per_batch
                store.insert([event(first + i) for i in range(per_batch)], position=f"1:{number}")
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    counts = []
    while writer.is_alive():
        counts.append(store.execute("SELECT count(*) FROM events")[0][0])
    writer.join()
    assert errors == []
    assert counts == sorted(counts)
    assert all(count % per_batch == 0 for count in counts)  # a batch is never seen half-done
    assert store.execute("SELECT count(*) FROM events") == [(batches * per_batch,)]


def test_recent_sessions_lists_the_last_time_of_each_open_session(
    store: DuckDBEventStore,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    store.insert(
        [
            event(1, visitor_id=10, session_id=100, ts=now - timedelta(minutes=20)),
            event(2, visitor_id=10, session_id=100, ts=now - timedelta(minutes=5)),
            event(3, visitor_id=11, session_id=101, ts=now - timedelta(hours=3)),
        ]
    )
    since = now - timedelta(minutes=30)
    last_ms = int((now - timedelta(minutes=5)).timestamp() * 1000)
    assert store.recent_sessions(since) == [(1, 10, 100, last_ms)]


def test_a_file_from_an_older_release_gets_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with duckdb.connect(str(path)) as con:
        # columns out of Event order, and without most of them
        con.execute("CREATE TABLE events (ts TIMESTAMP, event_id BLOB, site_id UINTEGER)")
    store = DuckDBEventStore(path)
    try:
        assert store.insert([event(7, city="Lyon")]) == 1
        [(stored_id, city)] = store.execute("SELECT event_id, city FROM events")
        assert (int.from_bytes(stored_id, "big"), city) == (7, "Lyon")
    finally:
        store.close()


_HOLD_STORE = """
import sys
from footfall.store import DuckDBEventStore
store = DuckDBEventStore(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
"""


def test_a_file_open_in_another_process_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_STORE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match="another Footfall process") as raised:
            DuckDBEventStore(path)
        assert str(path) in str(raised.value)
    finally:
        holder.communicate("", timeout=30)


def test_open_event_store_picks_the_store_by_url(tmp_path: Path) -> None:
    settings = Settings.load(environ={"FOOTFALL_DATA_DIR": str(tmp_path)})
    store = open_event_store(settings)
    try:
        assert isinstance(store, DuckDBEventStore)
        assert store.path == tmp_path / "events.duckdb"
    finally:
        store.close()
    elsewhere = Settings.load(
        environ={"FOOTFALL_DATA_DIR": str(tmp_path), "FOOTFALL_EVENTS_URL": "mysql://db/events"}
    )
    with pytest.raises(ValueError, match="mysql"):
        open_event_store(elsewhere)


# Writes 5 batches from the spool into the store, checkpoints after the first, then dies
# without closing: batches 2-5 live only in the WAL.
_CRASH_AFTER_WAL_WRITES = """
import os, sys
from pathlib import Path
from footfall.queue import Spool
from footfall.store import DuckDBEventStore
from tests.integration.test_store_duckdb import event_from_record
spool = Spool(Path(sys.argv[1]), fsync_interval=0)
store = DuckDBEventStore(Path(sys.argv[2]))
for first in range(0, 1000, 200):
    spool.append([str(index).encode() for index in range(first, first + 200)])
for number in range(5):
    batch = spool.fetch(200, 0)
    events = [event_from_record(record) for record in batch.records]
    store.insert(events, position=batch.position, batch_id=batch.batch_id)
    if number == 0:
        covered = store.checkpoint()
        spool.retire(covered)
        print(covered, flush=True)
os._exit(0)
"""


def test_an_unreplayable_wal_is_moved_aside_and_the_spool_restores_every_event(
    tmp_path: Path,
) -> None:
    spool_dir, path = tmp_path / "spool", tmp_path / "events.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_WAL_WRITES, str(spool_dir), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    checkpointed = child.stdout.strip()
    wal = path.with_name(path.name + ".wal")
    damaged = bytearray(wal.read_bytes())
    middle = len(damaged) * 3 // 10
    damaged[middle : middle + 64] = bytes(byte ^ 0xFF for byte in damaged[middle : middle + 64])
    wal.write_bytes(bytes(damaged))
    with pytest.raises(duckdb.Error, match="replaying WAL"):
        duckdb.connect(str(path), read_only=True)

    store = DuckDBEventStore(path)
    spool = Spool(spool_dir)
    try:
        assert store.position() == checkpointed
        assert len(list(tmp_path.glob("events.duckdb.wal.unreplayable-*"))) == 1
        assert ids(store) == list(range(200))
        spool.seek(store.position())
        while (batch := spool.fetch(150, 0)) is not None:
            events = [event_from_record(record) for record in batch.records]
            store.insert(events, position=batch.position, dedupe=True)
        assert ids(store) == list(range(1000))
    finally:
        spool.close()
        store.close()
