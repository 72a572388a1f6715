"""Enrichment in a child process: batch files load exactly, a dead child is replaced, none lost."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from footfall.events import Event, RawEvent, encode_raw
from footfall.pipeline.offload import EnrichmentProcess, OffloadedLoader
from footfall.store.duckdb import BatchFileWriter, DuckDBEventStore
from tests.support.server import LiveServer

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)


def raw(n: int, **overrides: object) -> RawEvent:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4().bytes,
        "ts_ms": 1_780_000_000_000 + n * 1000,
        "site_id": 1,
        "kind": "pageview",
        "name": "pageview",
        "visitor_id": 1000 + n % 7,
        "url": f"https://example.com/p{n}?utm_source=news&utm_medium=email",
        "referrer": "https://www.google.com/",
        "user_agent": BROWSER_UA,
        "props_keys": ["n"],
        "props_values": [str(n)],
        "revenue_amount": "12.5" if n % 3 == 0 else None,
        "revenue_currency": "EUR" if n % 3 == 0 else None,
    }
    fields.update(overrides)
    return RawEvent(**fields)  # type: ignore[arg-type]


def rows(store: DuckDBEventStore) -> list[tuple[object, ...]]:
    return store.execute(
        "SELECT event_id, ts, pathname, channel, browser, props_values, revenue_amount "
        "FROM events ORDER BY ts"
    )


def test_batch_file_round_trips_every_column_exactly(tmp_path: Path) -> None:
    event = Event(
        event_id=b"\x01" * 16,
        ts=datetime(2026, 3, 29, 1, 30, 15, 123000, tzinfo=UTC),
        site_id=7,
        name="Purchase",
        kind="conversion",
        visitor_id=2**64 - 1,
        session_id=2**63 - 1,
        user_id="u-1",
        pathname="/checkout",
        props_keys=["plan", "quote"],
        props_values=["pro", 'it\'s "quoted"'],
        revenue_amount=Decimal("99.9900"),
        revenue_currency="USD",
        screen_width=1440,
        is_bot=True,
        interactive=False,
        scroll_depth=55,
        engagement_ms=12_345,
        batch_id=42,
    )
    writer = BatchFileWriter()
    path = tmp_path / "batch.parquet"
    assert writer.write([event], path) == 1
    writer.close()
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        assert store.insert_file(path, position="3:120") == 1
        store.insert([event], position="3:240")  # the same row through the Appender
        first, second = store.execute("SELECT * FROM events")
        assert first == second  # the file path stores exactly what the Appender stores
        assert store.position() == "3:240"
    finally:
        store.close()


@dataclass
class Offloaded:
    store: DuckDBEventStore
    process: EnrichmentProcess
    loader: OffloadedLoader


@pytest.fixture
def offloaded(tmp_path: Path) -> Iterator[Offloaded]:
    """A DuckDB store fed by a started enrichment process."""
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    process = EnrichmentProcess(
        secret_key=b"secret",
        session_timeout_s=1800,
        max_visitors=1000,
        work_dir=tmp_path / "batches",
        recent_sessions=lambda: [],
    )
    loader = OffloadedLoader(store, process)
    loader.start([])
    try:
        yield Offloaded(store, process, loader)
    finally:
        loader.close()
        store.close()


def test_insert_file_is_atomic_with_the_position_and_dedupes(
    offloaded: Offloaded, tmp_path: Path
) -> None:
    store, loader = offloaded.store, offloaded.loader
    records = [encode_raw(raw(n)) for n in range(50)]
    assert loader.load(records, batch_id=1, position="1:100", dedupe=False) == 50
    assert store.position() == "1:100"
    # replaying the same records after a crash stores nothing twice
    assert loader.load(records, batch_id=1, position="1:100", dedupe=True) == 0
    stored = rows(store)
    assert len(stored) == 50
    assert stored[0][2] == "/p0" and stored[0][3] == "Email" and stored[0][4] == "Safari"
    assert {str(row[6]) for row in stored if row[6] is not None} == {"12.5000"}
    # a file that cannot be loaded leaves rows and position untouched
    bad = tmp_path / "batches" / "broken.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(Exception, match="(?i)parquet|magic|invalid"):
        store.insert_file(bad, position="9:999")
    assert store.position() == "1:100" and len(rows(store)) == 50
    assert not list((tmp_path / "batches").glob("batch-*"))  # loaded files are removed


def test_a_killed_enrichment_process_is_replaced_and_its_batch_retried(
    offloaded: Offloaded,
) -> None:
    store, process, loader = offloaded.store, offloaded.process, offloaded.loader
    loader.load([encode_raw(raw(1))], batch_id=1, position="1:1", dedupe=False)
    child = process._process
    assert child is not None and child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(5)
    # the dead child is noticed before the batch is sent: a fresh one takes it
    assert loader.load([encode_raw(raw(2))], batch_id=2, position="1:2", dedupe=False) == 1
    assert process._process is not None and process._process.pid != child.pid
    assert len(rows(store)) == 2 and store.position() == "1:2"


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_server_survives_losing_its_enrichment_process_and_leaves_no_orphan(
    tmp_path: Path,
) -> None:
    server = LiveServer(tmp_path / "data", env={"FOOTFALL_FLUSH_INTERVAL": "0.05"})
    server.start()
    assert server.process is not None
    tags = [f"t{n}" for n in range(40)]

    def send(tag: str) -> None:
        response = httpx.post(
            f"{server.url}/api/event",
            json={"n": "pageview", "u": f"https://localhost/{tag}", "d": "localhost"},
            headers={"user-agent": BROWSER_UA},
        )
        assert response.status_code == 202 and "x-footfall-dropped" not in response.headers

    for tag in tags[:20]:
        send(tag)
    deadline = time.monotonic() + 30
    children = _children(server.process.pid)
    while not children and time.monotonic() < deadline:
        time.sleep(0.1)
        children = _children(server.process.pid)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    for tag in tags[20:]:
        send(tag)
    time.sleep(1)
    new_children = _children(server.process.pid)
    server.kill()  # SIGKILL the server: its enrichment process must not outlive it
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in new_children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in new_children)
    server.start()
    server.stop()
    stored = server.events("name = 'pageview'")
    assert sorted(row["pathname"] for row in stored) == sorted(f"/{tag}" for tag in tags)
    assert len({row["event_id"] for row in stored}) == len(tags)
    assert datetime.now(UTC) - max(row["ts"] for row in stored).replace(tzinfo=UTC) < timedelta(
        minutes=5
    )
