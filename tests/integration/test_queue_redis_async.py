"""The collector's non-blocking append to Redis (`RedisProducer.append_async`): concurrent
requests share round trips yet each gets exactly its own answer, records are in the stream
before the caller resumes, a full shard or an unreachable Redis is an error (a 503) never a
silent drop, and the event loop keeps running while Redis is slow to answer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from footfall.asgi import create_app
from footfall.meta.db import session_scope
from footfall.meta.sites import create_site
from footfall.queue.base import AsyncProducer, QueueFull, QueueUnavailable
from footfall.queue.redis import RedisProducer, RedisQueueConfig
from tests.support.app import BROWSER_UA, settings_for
from tests.support.redis import dead_redis_url, redis_url

__all__ = ["dead_redis_url", "redis_url"]  # fixtures

EVENT = {"n": "pageview", "u": "https://example.com/a", "d": "example.com"}


def _entries(url: str, shard: int) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return [fields[b"r"] for _, fields in client.xrange(f"footfall:events:{shard}")]
    finally:
        client.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never answers a byte."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def test_the_redis_producer_appends_asynchronously(redis_url: str) -> None:
    assert isinstance(RedisProducer(RedisQueueConfig.from_url(redis_url)), AsyncProducer)


def test_concurrent_appends_all_land_in_order_per_shard(redis_url: str) -> None:
    config = RedisQueueConfig.from_url(f"{redis_url}?shards=2")
    producer = RedisProducer(config)

    async def run() -> None:
        calls = []
        for index in range(300):
            shard_key = index % 3  # keys 0 and 2 share shard 0
            records = [f"{shard_key}:{index}:{part}".encode() for part in range(1 + index % 4)]
            calls.append(producer.append_async(records, shard_key))
        await asyncio.gather(*calls)
        await producer.aclose()

    try:
        asyncio.run(run())
    finally:
        producer.close()
    expected: dict[int, list[bytes]] = {0: [], 1: []}
    for index in range(300):
        shard_key = index % 3
        records = [f"{shard_key}:{index}:{part}".encode() for part in range(1 + index % 4)]
        expected[shard_key % 2].extend(records)
    assert _entries(redis_url, 0) == expected[0]
    assert _entries(redis_url, 1) == expected[1]


def test_a_full_shard_refuses_whole_calls_and_keeps_the_rest(redis_url: str) -> None:
    config = RedisQueueConfig.from_url(f"{redis_url}?shards=2&max_len=5")
    producer = RedisProducer(config)

    async def run() -> list[BaseException | None]:
        outcomes = await asyncio.gather(
            producer.append_async([b"a1", b"a2", b"a3"], 0),
            producer.append_async([b"b1", b"b2", b"b3"], 0),  # would pass the bound: refused
            producer.append_async([b"c1", b"c2"], 0),
            producer.append_async([b"d1"], 1),
            return_exceptions=True,
        )
        await producer.aclose()
        return list(outcomes)

    try:
        outcomes = asyncio.run(run())
    finally:
        producer.close()
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], QueueFull)
    assert _entries(redis_url, 0) == [b"a1", b"a2", b"a3", b"c1", b"c2"]
    assert _entries(redis_url, 1) == [b"d1"]


def test_redis_down_is_queue_unavailable(dead_redis_url: str) -> None:
    producer = RedisProducer(RedisQueueConfig.from_url(dead_redis_url))

    async def run() -> None:
        with pytest.raises(QueueUnavailable):
            await producer.append_async([b"x"], 0)
        await producer.aclose()

    try:
        asyncio.run(run())
    finally:
        producer.close()


def test_the_event_loop_runs_while_redis_is_slow_to_answer(silent_port: int) -> None:
    producer = RedisProducer(RedisQueueConfig.from_url(f"redis://127.0.0.1:{silent_port}/0"))
    ticks_while_waiting = 0

    async def run() -> None:
        nonlocal ticks_while_waiting
        started = asyncio.Event()

        async def append() -> None:
            started.set()
            await producer.append_async([b"x"], 0)

        task = asyncio.create_task(append())
        await started.wait()
        while not task.done():
            ticks_while_waiting += 1
            await asyncio.sleep(0.01)
        with pytest.raises(QueueUnavailable):  # no answer within the timeout: a 503
            await task
        await producer.aclose()

    try:
        asyncio.run(run())
    finally:
        producer.close()
    # A blocking append would hold the loop for its whole timeout: no tick in between.
    assert ticks_while_waiting > 1


def test_a_collector_answers_503_without_redis_and_202_with_it(
    tmp_path: Path, redis_url: str, dead_redis_url: str
) -> None:
    for url, status in ((dead_redis_url, 503), (redis_url, 202)):
        app = create_app(settings_for(tmp_path / str(status), queue_url=url), role="collector")
        with session_scope(app.state.engine) as session:
            create_site(session, "example.com")
        app.state.sites.invalidate()
        with TestClient(app, headers={"user-agent": BROWSER_UA}) as client:
            answers = [client.post("/api/event", json=EVENT) for _ in range(3)]
            assert [answer.status_code for answer in answers] == [status] * 3
            if status == 503:
                assert answers[0].headers["retry-after"] == "5"
            clicked = client.post(
                "/api/v1/events",
                json={"event_type": "page_view", "metadata": {"page_url": "https://example.com/"}},
            )
            assert clicked.status_code == (503 if status == 503 else 201)
    assert sum(len(_entries(redis_url, shard)) for shard in range(4)) == 4


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path, redis_url: str) -> None:
    queue_url = f"{redis_url}?shards=1&max_len=2"
    app = create_app(settings_for(tmp_path / "data", queue_url=queue_url), role="collector")
    with session_scope(app.state.engine) as session:
        create_site(session, "example.com")
    app.state.sites.invalidate()
    with TestClient(app, headers={"user-agent": BROWSER_UA}) as client:
        statuses = [client.post("/api/event", json=EVENT).status_code for _ in range(4)]
        full = client.post("/api/event", json=EVENT)
    assert statuses == [202, 202, 503, 503]
    assert full.status_code == 503 and full.headers["retry-after"] == "10"
    assert len(_entries(redis_url, 0)) == 2
