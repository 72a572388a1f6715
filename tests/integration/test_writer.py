"""The writer over a real spool and a real DuckDB file: exactly-once storage, draining on stop,
retries while the store fails, resuming after a restart and after SIGKILL mid-load."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from footfall.events import Event, RawEvent, encode_raw
from footfall.pipeline.steps import Enricher
from footfall.pipeline.writer import Writer
from footfall.queue import Spool
from footfall.store import DuckDBEventStore

ROOT = Path(__file__).resolve().parents[2]
START_MS = int(time.time() * 1000)


def record(index: int) -> bytes:
    """A queued raw event whose id and `n` prop are `index`, from one of 13 visitors."""
    return encode_raw(
        RawEvent(
            event_id=index.to_bytes(16, "big"),
            ts_ms=START_MS + index,
            site_id=1,
            kind="pageview",
            name="pageview",
            visitor_id=index % 13,
            url="https://example.com/",
            props_keys=["n"],
            props_values=[str(index)],
        )
    )


def enricher() -> Enricher:
    return Enricher(secret_key=b"writer-test-secret", session_timeout_s=1800)


class FaultyStore:
    """The real store behind a switch that makes inserts fail, as a full disk or outage would."""

    def __init__(self, store: DuckDBEventStore, failures: int) -> None:
        self.store = store
        self.failures_left = failures
        self.failed = 0
        self.positions: list[str | None] = []

    def insert(self, events: Sequence[Event], **options: Any) -> int:
        if self.failures_left:
            self.failures_left -= 1
            self.failed += 1
            raise OSError("No space left on device")
        self.positions.append(options.get("position"))
        return self.store.insert(events, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    queue = Spool(tmp_path / "spool", segment_bytes=64 << 10)
    yield queue
    queue.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    opened = DuckDBEventStore(tmp_path / "events.duckdb")
    yield opened
    opened.close()


def writer_for(spool: Spool, store: Any, **options: Any) -> Writer:
    settings: dict[str, Any] = {"batch_size": 500, "flush_interval": 0.05}
    settings.update(options)
    return Writer(spool, store, enricher(), **settings)


def stored_ns(store: DuckDBEventStore) -> list[int]:
    """The `n` prop of every stored event, sorted, duplicates kept."""
    rows = store.execute("SELECT props_values[1] FROM events")
    return sorted(int(row[0]) for row in rows)


def stored_metric() -> float:
    return REGISTRY.get_sample_value("footfall_events_stored_total") or 0.0


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_appended_events_are_stored_exactly_once(spool: Spool, store: DuckDBEventStore) -> None:
    stored_before = stored_metric()
    writer = writer_for(spool, store)
    writer.start()

    def produce(worker: int) -> None:
        for first in range(worker * 1000, worker * 1000 + 1000, 10):
            spool.append([record(index) for index in range(first, first + 10)])

    producers = [threading.Thread(target=produce, args=(worker,)) for worker in range(4)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    wait_for(lambda: writer.stored_total >= 4000)
    assert writer.is_alive() and writer.last_error is None
    assert writer.stop() is True
    assert not writer.is_alive()
    assert stored_ns(store) == list(range(4000))
    assert stored_metric() - stored_before == 4000
    assert spool.fetch(1, 0) is None  # the stored position is the end of the queue


def test_stop_drains_and_checkpoints_what_is_queued(
    spool: Spool, store: DuckDBEventStore, tmp_path: Path
) -> None:
    writer = writer_for(spool, store, batch_size=20_000, flush_interval=30)
    writer.start()
    spool.append([record(index) for index in range(3000)])
    assert writer.stop(timeout=10) is True
    assert stored_ns(store) == list(range(3000))
    wal = tmp_path / "events.duckdb.wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_undecodable_records_are_skipped(spool: Spool, store: DuckDBEventStore) -> None:
    writer = writer_for(spool, store)
    writer.start()
    spool.append([record(1), b"\xc1 not msgpack", b"", record(2)])
    wait_for(lambda: writer.stored_total >= 2)
    spool.append([record(3)])
    wait_for(lambda: writer.stored_total >= 3)
    assert writer.is_alive() and writer.last_error is None
    writer.stop()
    assert stored_ns(store) == [1, 2, 3]


def test_a_failing_store_is_retried_in_order_without_loss(
    spool: Spool, store: DuckDBEventStore
) -> None:
    faulty = FaultyStore(store, failures=3)
    writer = writer_for(spool, faulty, batch_size=100)
    spool.append([record(index) for index in range(1000)])
    writer.start()
    wait_for(lambda: writer.stored_total >= 1000)
    writer.stop()
    assert faulty.failed == 3
    assert writer.last_error is None
    assert stored_ns(store) == list(range(1000))
    offsets = [int(position.split(":")[1]) for position in faulty.positions if position]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_stop_with_the_store_down_keeps_events_queued(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    down = FaultyStore(store, failures=10**9)
    writer = writer_for(spool, down)
    spool.append([record(index) for index in range(50)])
    writer.start()
    wait_for(lambda: down.failed > 0)
    assert writer.last_error is not None and "No space left" in writer.last_error
    writer.stop(timeout=2)
    assert not writer.is_alive()
    assert stored_ns(store) == []

    restarted = writer_for(spool, store)
    restarted.start()
    wait_for(lambda: restarted.stored_total >= 50)
    restarted.stop()
    spool.close()
    assert stored_ns(store) == list(range(50))
    store.close()


def test_restart_resumes_after_the_stored_position_and_keeps_visits_whole(
    spool: Spool, store: DuckDBEventStore
) -> None:
    first = writer_for(spool, store)
    first.start()
    spool.append([record(index) for index in range(100)])
    wait_for(lambda: first.stored_total >= 100)
    first.stop()

    second = writer_for(spool, store)
    second.start()
    spool.append([record(index) for index in range(100, 150)])
    wait_for(lambda: second.stored_total >= 50)
    second.stop()
    assert stored_ns(store) == list(range(150))
    # one visit per visitor: the events after the restart joined the visits restored from store
    sessions = store.execute("SELECT visitor_id, count(DISTINCT session_id) FROM events GROUP BY 1")
    assert sorted(sessions) == [(visitor, 1) for visitor in range(13)]


# Runs spool + store + writer, appending records and printing each acknowledged index.
_APPEND_UNTIL_KILLED = """
import sys
from pathlib import Path
from footfall.pipeline.steps import Enricher
from footfall.pipeline.writer import Writer
from footfall.queue import Spool
from footfall.store import DuckDBEventStore
from tests.integration.test_writer import enricher, record
spool = Spool(Path(sys.argv[1]), segment_bytes=32 << 10, fsync_interval=3600)
store = DuckDBEventStore(Path(sys.argv[2]))
writer = Writer(spool, store, enricher(), batch_size=300, flush_interval=0.01,
                checkpoint_interval=0.02)
writer.start()
index = int(sys.argv[3])
while True:
    spool.append([record(index), record(index + 1)])
    index += 2
    print(index - 1, flush=True)
"""


def test_sigkill_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    spool_dir, path = tmp_path / "spool", tmp_path / "events.duckdb"
    acknowledged: list[int] = []
    for run in range(3):
        first = run * 1_000_000
        child = subprocess.Popen(
            [sys.executable, "-c", _APPEND_UNTIL_KILLED, str(spool_dir), str(path), str(first)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(4000):
            line = child.stdout.readline()
            assert line, "the child died on its own"
        acknowledged.extend(range(first, int(line) + 1))
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()

    spool = Spool(spool_dir)
    store = DuckDBEventStore(path)
    try:
        writer = writer_for(spool, store)
        writer.start()
        assert writer.stop() is True
        stored = stored_ns(store)
    finally:
        spool.close()
        store.close()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(acknowledged) <= set(stored), "an acknowledged event was lost"
