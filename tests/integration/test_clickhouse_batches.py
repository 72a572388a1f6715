"""`footfall worker` inserts into ClickHouse in batches of at most FOOTFALL_BATCH_SIZE events
(the insert batch size setting of docs/clickhouse.md), each batch one insert with its batch_id."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from footfall.events import Kind, RawEvent, encode_raw
from footfall.queue.redis import RedisProducer, RedisQueueConfig
from footfall.store.clickhouse import ClickHouseEventStore
from tests.support.clickhouse import ClickHouseServer
from tests.support.redis import redis_url
from tests.support.scaleout import SECRET, WorkerProcess
from tests.support.stores import clickhouse_server, drop_clickhouse_store

__all__ = ["clickhouse_server", "redis_url"]  # fixtures

EVENTS = 100
BATCH_SIZE = 40


def _raw(index: int) -> RawEvent:
    return RawEvent(
        event_id=secrets.token_bytes(16),
        ts_ms=int(time.time() * 1000) - 60_000 + index,
        site_id=1,
        kind=Kind.PAGEVIEW.value,
        name="pageview",
        visitor_id=1000 + index % 7,
        url=f"https://example.com/page/{index}",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    )


def test_the_worker_inserts_batches_of_the_configured_size(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer
) -> None:
    # One shard: the worker reads exactly what it asks for, so batches are exactly the setting.
    queue_url = f"{redis_url}?shards=1"
    events_url = clickhouse_server.fresh_database_url()
    store = ClickHouseEventStore(events_url)
    producer = RedisProducer(RedisQueueConfig.from_url(queue_url))
    for index in range(EVENTS):  # all queued before the worker starts
        producer.append([encode_raw(_raw(index))], shard_key=index)
    producer.close()
    worker = WorkerProcess(
        tmp_path / "worker",
        {
            "FOOTFALL_QUEUE_URL": queue_url,
            "FOOTFALL_EVENTS_URL": events_url,
            "FOOTFALL_DATABASE_URL": f"sqlite:///{tmp_path / 'meta.sqlite3'}",
            "FOOTFALL_SECRET_KEY": SECRET,
            "FOOTFALL_BATCH_SIZE": str(BATCH_SIZE),
            "FOOTFALL_FLUSH_INTERVAL": "5",
        },
    )
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while store.execute("SELECT count() FROM events") != [(EVENTS,)]:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.1)
        sizes = store.execute(
            "SELECT count() AS rows FROM events GROUP BY batch_id ORDER BY rows DESC"
        )
        assert [rows for (rows,) in sizes] == [BATCH_SIZE, BATCH_SIZE, EVENTS - 2 * BATCH_SIZE]
    finally:
        worker.stop()
        drop_clickhouse_store(store)
