"""The worker loop in-process over real Redis and each event store: it stores what collectors
queued, and a batch inserted by a worker that died before acknowledging is not stored twice."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest

from footfall.events import Kind, RawEvent, encode_raw
from footfall.pipeline.steps import Enricher
from footfall.pipeline.worker import Worker
from footfall.pipeline.writer import InlineLoader
from footfall.queue.redis import RedisConsumer, RedisProducer, RedisQueueConfig
from footfall.store import SessionStore
from tests.support.redis import redis_url
from tests.support.stores import clickhouse_server, event_store, stored_events

__all__ = ["clickhouse_server", "event_store", "redis_url"]  # fixtures

SECRET = b"worker-test-secret"
NOW_MS = int(time.time() * 1000)


def _raw(index: int) -> RawEvent:
    return RawEvent(
        event_id=secrets.token_bytes(16),
        ts_ms=NOW_MS - 60_000 + index,
        site_id=1,
        kind=Kind.PAGEVIEW.value,
        name="pageview",
        visitor_id=1000 + index % 10,
        url=f"https://example.com/page/{index}",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    )


def _loader(store: SessionStore) -> InlineLoader:
    return InlineLoader(store, Enricher(secret_key=SECRET, session_timeout_s=1800))


def _eventually(check: Callable[[], bool], within_s: float = 30.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_parse_shards() -> None:
    from footfall.cli.worker import parse_shards

    assert parse_shards("", 8) is None
    assert parse_shards("0,2-4,3", 8) == [0, 2, 3, 4]
    with pytest.raises(ValueError, match="numbered 0..7"):
        parse_shards("6-8", 8)
    with pytest.raises(ValueError, match="expected numbers"):
        parse_shards("a", 8)


def test_a_batch_stored_before_a_crash_is_taken_over_without_duplicates(
    redis_url: str, event_store: SessionStore
) -> None:
    config = RedisQueueConfig.from_url(f"{redis_url}?shards=2&claim_idle_ms=300")
    producer = RedisProducer(config)
    raws = [_raw(index) for index in range(60)]
    for raw in raws:
        producer.append([encode_raw(raw)], shard_key=raw.visitor_id)
    # A worker that inserted a batch and died before XACK.
    crashed = RedisConsumer(config, name="crashed")
    batch = crashed.fetch(25, 0.5)
    assert batch is not None and len(batch.records) >= 25
    assert _loader(event_store).load(
        batch.records, batch_id=batch.batch_id, position=None, dedupe=False
    ) == len(batch.records)
    crashed.close()

    worker = Worker(
        RedisConsumer(config, name="survivor"),
        event_store,
        _loader(event_store),
        batch_size=40,
        flush_interval=0.1,
    )
    worker.start()
    try:
        assert _eventually(lambda: producer.depth() == 0), worker.last_error
    finally:
        assert worker.stop(timeout=10)
        producer.close()
    stored = stored_events(event_store)
    ids = [event.event_id for event in stored]
    assert len(ids) == len(set(ids)) == len(raws)
    assert {event.pathname for event in stored} == {f"/page/{index}" for index in range(60)}
    assert worker.stored_total == len(raws) - len(batch.records)  # the re-claimed rows: deduped
