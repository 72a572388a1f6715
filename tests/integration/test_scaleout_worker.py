"""The worker loop in-process over real Redis and each event store: it stores what collectors
queued, a batch inserted by a worker that died before acknowledging is not stored twice, and
neither is a batch whose insert succeeded while its answer was lost."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest

from footfall.events import Event, Kind, RawEvent, encode_raw
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


class AnswerLostOnce:
    """The event store behind a connection that drops the answer to the first insert: the
    rows are stored, the caller gets a connection error (a network fault, simulated)."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self.dialect_name = store.dialect_name
        self.lost = 0

    def insert(
        self,
        events: Sequence[Event],
        *,
        batch_id: int = 0,
        position: str | None = None,
        dedupe: bool = False,
    ) -> int:
        inserted = self._store.insert(events, batch_id=batch_id, position=position, dedupe=dedupe)
        if inserted and not self.lost:
            self.lost += 1
            raise ConnectionResetError("connection reset before the answer arrived")
        return inserted

    def position(self) -> str | None:
        return self._store.position()

    def checkpoint(self) -> str | None:
        return self._store.checkpoint()

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self._store.execute(sql, params)

    def recent_sessions(self, since: datetime) -> list[tuple[int, int, int, int]]:
        return self._store.recent_sessions(since)

    def close(self) -> None:
        self._store.close()


def test_a_retried_insert_whose_answer_was_lost_is_not_stored_twice(
    redis_url: str, event_store: SessionStore
) -> None:
    config = RedisQueueConfig.from_url(f"{redis_url}?shards=2&claim_idle_ms=30000")
    producer = RedisProducer(config)
    raws = [_raw(index) for index in range(40)]
    for raw in raws:
        producer.append([encode_raw(raw)], shard_key=raw.visitor_id)
    flaky = AnswerLostOnce(event_store)
    worker = Worker(
        RedisConsumer(config, name="retrying"),
        flaky,
        _loader(flaky),
        batch_size=100,
        flush_interval=0.3,
    )
    worker.start()
    try:
        assert _eventually(lambda: producer.depth() == 0), worker.last_error
    finally:
        assert worker.stop(timeout=10)
        producer.close()
    assert flaky.lost == 1
    ids = [event.event_id for event in stored_events(event_store)]
    assert len(ids) == len(set(ids)) == len(raws)


def test_the_worker_checkpoints_and_applies_retention(
    redis_url: str, event_store: SessionStore
) -> None:
    """FOOTFALL_RETENTION_MONTHS holds for worker-fed stores too, and a DuckDB store's visit
    rollup advances at the worker's checkpoints."""
    from datetime import UTC, timedelta

    from tests.support.factories import pageview, populate

    old = datetime.now(UTC) - timedelta(days=200)
    populate(event_store, [pageview(site_id=1, visitor_id=1, session_id=1, ts=old)])
    config = RedisQueueConfig.from_url(f"{redis_url}?shards=2")
    producer = RedisProducer(config)
    for raw in (_raw(index) for index in range(20)):
        producer.append([encode_raw(raw)], shard_key=raw.visitor_id)
    worker = Worker(
        RedisConsumer(config, name="keeper"),
        event_store,
        _loader(event_store),
        flush_interval=0.1,
        checkpoint_interval=0.2,
        retention_months=2,
    )
    worker.start()
    try:
        assert _eventually(lambda: len(stored_events(event_store)) == 20)
        assert all(event.ts > old + timedelta(days=1) for event in stored_events(event_store))
        if event_store.dialect_name == "duckdb":

            def rolled_up() -> bool:
                found = event_store.execute("SELECT watermark FROM visits_watermark")
                return bool(found[0][0] > old.replace(tzinfo=None))

            assert _eventually(rolled_up), worker.last_error
    finally:
        assert worker.stop(timeout=10)
        producer.close()
