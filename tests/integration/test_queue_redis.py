"""The Redis Streams queue: sharding and order, ack, take-over from dead workers, bound, outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from footfall.queue import QueueFull, QueueUnavailable, open_queue
from footfall.queue.redis import (
    GROUP,
    RedisConsumer,
    RedisProducer,
    RedisQueueConfig,
)
from footfall.settings import Settings
from tests.support.redis import dead_redis_url, redis_url

__all__ = ["dead_redis_url", "redis_url"]  # fixtures


def _config(url: str, **options: int) -> RedisQueueConfig:
    query = "&".join(f"{name}={value}" for name, value in options.items())
    return RedisQueueConfig.from_url(f"{url}?{query}" if query else url)


@pytest.fixture
def producer(redis_url: str) -> Iterator[RedisProducer]:
    queue = RedisProducer(_config(redis_url, shards=4))
    yield queue
    queue.close()


def _append(
    producer: RedisProducer, batch: list[bytes], keys: list[int], *, asynchronous: bool
) -> None:
    """`append`, or `append_async` on an event loop of its own (as a collector appends)."""
    if not asynchronous:
        producer.append(batch, keys)
        return

    async def run() -> None:
        try:
            await producer.append_async(batch, keys)
        finally:
            await producer.aclose()

    asyncio.run(run())


def _drain(consumer: RedisConsumer, *, ack: bool = True) -> list[bytes]:
    records: list[bytes] = []
    while (batch := consumer.fetch(100, 0.05)) is not None:
        records.extend(batch.records)
        if ack:
            consumer.ack(batch)
    return records


def test_url_options_shape_the_queue() -> None:
    config = RedisQueueConfig.from_url("redis://h:1/2?shards=8&max_len=50&claim_idle_ms=10")
    assert (config.url, config.shards, config.max_len, config.claim_idle_ms) == (
        "redis://h:1/2",
        8,
        50,
        10,
    )
    with pytest.raises(ValueError, match="unknown option"):
        RedisQueueConfig.from_url("redis://h:1/2?sharding=8")
    with pytest.raises(ValueError, match="positive integer"):
        RedisQueueConfig.from_url("redis://h:1/2?shards=0")


def test_open_queue_picks_redis_for_redis_urls(redis_url: str) -> None:
    producer, consumer = open_queue(Settings.load({"queue_url": redis_url}))
    try:
        assert isinstance(producer, RedisProducer)
        assert isinstance(consumer, RedisConsumer)
    finally:
        producer.close()
        consumer.close()


def test_a_visitors_records_stay_in_order_on_one_shard(
    producer: RedisProducer, redis_url: str
) -> None:
    for index in range(30):
        producer.append([f"v{index % 3}-{index}".encode()], shard_key=index % 3)
    client = redis.Redis.from_url(redis_url)
    lengths = [client.xlen(producer.config.stream(shard)) for shard in range(4)]
    assert lengths == [10, 10, 10, 0]
    consumer = RedisConsumer(producer.config)
    try:
        records = _drain(consumer)
    finally:
        consumer.close()
    assert sorted(records) == sorted(f"v{i % 3}-{i}".encode() for i in range(30))
    for visitor in range(3):
        mine = [r for r in records if r.startswith(f"v{visitor}-".encode())]
        assert mine == [f"v{visitor}-{i}".encode() for i in range(visitor, 30, 3)]


def test_acknowledged_records_leave_the_stream(producer: RedisProducer) -> None:
    producer.append([b"a", b"b", b"c"], shard_key=1)
    consumer = RedisConsumer(producer.config)
    try:
        batch = consumer.fetch(10, 0.1)
        assert batch is not None and batch.records == [b"a", b"b", b"c"]
        assert producer.depth() == 3  # read but not stored yet
        consumer.ack(batch)
        assert producer.depth() == 0
        assert consumer.fetch(10, 0.05) is None
    finally:
        consumer.close()


def test_two_workers_share_the_shards_without_overlap(producer: RedisProducer) -> None:
    for index in range(200):
        producer.append([str(index).encode()], shard_key=index)
    first, second = RedisConsumer(producer.config), RedisConsumer(producer.config)
    try:
        got: list[bytes] = []
        per_worker = [0, 0]
        for _ in range(40):  # far more rounds than needed; stops once both find nothing
            batches = [consumer.fetch(7, 0.01) for consumer in (first, second)]
            if batches == [None, None]:
                break
            for index, (consumer, batch) in enumerate(zip((first, second), batches, strict=True)):
                if batch is None:
                    continue
                got.extend(batch.records)
                per_worker[index] += len(batch.records)
                consumer.ack(batch)
    finally:
        first.close()
        second.close()
    assert sorted(got) == sorted(str(i).encode() for i in range(200))
    assert min(per_worker) > 0


def test_entries_of_a_dead_worker_are_taken_over_and_marked_redelivered(
    redis_url: str,
) -> None:
    config = _config(redis_url, shards=2, claim_idle_ms=200)
    producer = RedisProducer(config)
    dead = RedisConsumer(config, name="dead")
    alive = RedisConsumer(config, name="alive")
    try:
        producer.append([b"x1", b"x2"], shard_key=0)
        taken = dead.fetch(10, 0.1)
        assert taken is not None and taken.records == [b"x1", b"x2"]
        dead.close()  # dies without acknowledging
        producer.append([b"y1"], shard_key=1)
        fresh = alive.fetch(10, 0.1)
        assert fresh is not None and fresh.records == [b"y1"]
        assert not alive.redelivered(fresh)
        alive.ack(fresh)
        time.sleep(0.3)  # the dead worker's entries become idle long enough
        claimed = alive.fetch(10, 0.1)
        assert claimed is not None and claimed.records == [b"x1", b"x2"]
        assert alive.redelivered(claimed)
        alive.ack(claimed)
        assert producer.depth() == 0
        client = redis.Redis.from_url(redis_url)
        assert client.xpending(config.stream(0), GROUP)["pending"] == 0
    finally:
        producer.close()
        alive.close()


def test_a_released_batch_comes_back_redelivered(redis_url: str) -> None:
    config = _config(redis_url, shards=1, claim_idle_ms=100)
    producer, consumer = RedisProducer(config), RedisConsumer(config)
    try:
        producer.append([b"r"], shard_key=5)
        batch = consumer.fetch(10, 0.1)
        assert batch is not None
        consumer.release(batch)
        time.sleep(0.2)
        again = consumer.fetch(10, 0.1)
        assert again is not None and again.records == [b"r"] and consumer.redelivered(again)
    finally:
        producer.close()
        consumer.close()


def test_a_full_shard_answers_queue_full_and_keeps_what_it_accepted(redis_url: str) -> None:
    producer = RedisProducer(_config(redis_url, shards=2, max_len=5))
    try:
        producer.append([b"1", b"2", b"3"], shard_key=0)
        producer.append([b"4", b"5"], shard_key=0)
        with pytest.raises(QueueFull):
            producer.append([b"6"], shard_key=0)
        with pytest.raises(QueueFull):  # a request never goes in partly
            producer.append([b"a"] * 6, shard_key=1)
        producer.append([b"b"], shard_key=1)  # the other shard still has room
        assert producer.depth() == 6
        consumer = RedisConsumer(producer.config)
        try:
            assert sorted(_drain(consumer)) == [b"1", b"2", b"3", b"4", b"5", b"b"]
            time.sleep(0.15)  # the producer reads the shards' lengths again every 0.1 s
            producer.append([b"6"], shard_key=0)  # room again once stored
        finally:
            consumer.close()
    finally:
        producer.close()


def test_redis_down_raises_queue_unavailable(dead_redis_url: str) -> None:
    producer = RedisProducer(RedisQueueConfig.from_url(dead_redis_url))
    consumer = RedisConsumer(RedisQueueConfig.from_url(dead_redis_url))
    try:
        with pytest.raises(QueueUnavailable):
            producer.append([b"lost?"], shard_key=0)
        with pytest.raises(QueueUnavailable):
            consumer.fetch(10, 0.05)
        assert producer.depth_bytes() == 0
    finally:
        producer.close()
        consumer.close()


def test_hold_keeps_entries_from_take_over_and_drops_those_taken(redis_url: str) -> None:
    config = _config(redis_url, shards=1, claim_idle_ms=200)
    producer = RedisProducer(config)
    slow, other = RedisConsumer(config, name="slow"), RedisConsumer(config, name="other")
    try:
        producer.append([b"k1", b"k2"], shard_key=0)
        batch = slow.fetch(10, 0.1)
        assert batch is not None
        time.sleep(0.25)
        assert slow.hold(batch).records == [b"k1", b"k2"]  # idle time reset: nobody takes them
        assert other.fetch(10, 0.05) is None
        time.sleep(0.25)
        taken = other.fetch(10, 0.1)  # now idle long enough: taken over
        assert taken is not None and taken.records == [b"k1", b"k2"]
        assert slow.hold(batch).records == []  # the slow worker must not store them too
    finally:
        producer.close()
        slow.close()
        other.close()


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_batch_of_several_visitors_goes_to_each_visitors_shard(
    redis_url: str, asynchronous: bool
) -> None:
    """One append with a shard key per record: every record lands on its visitor's stream
    (so one worker sessionizes each visitor), still all or none."""
    producer = RedisProducer(_config(redis_url, shards=4, max_len=3))
    client = redis.Redis.from_url(redis_url)
    records, keys = [b"a1", b"b1", b"a2", b"c1"], [0, 1, 4, 2]

    def append(batch: list[bytes], shard_keys: list[int]) -> None:
        _append(producer, batch, shard_keys, asynchronous=asynchronous)

    try:
        append(records, keys)
        streams = {
            shard: [entry[1][b"r"] for entry in client.xrange(producer.config.stream(shard))]
            for shard in range(4)
        }
        assert streams == {0: [b"a1", b"a2"], 1: [b"b1"], 2: [b"c1"], 3: []}
        # Shard 0 would pass its bound of 3: nothing of the batch goes in, on any shard.
        with pytest.raises(QueueFull):
            append([b"x", b"a3", b"a4"], [3, 0, 8])
        assert [client.xlen(producer.config.stream(shard)) for shard in range(4)] == [2, 1, 1, 0]
        with pytest.raises(ValueError, match="one shard key per record"):
            producer.append([b"y", b"z"], [1])
    finally:
        producer.close()
        client.close()


@pytest.mark.parametrize("asynchronous", [False, True])
def test_appends_survive_a_redis_that_forgot_the_append_script(
    redis_url: str, asynchronous: bool
) -> None:
    """Several records go in with one script call; a Redis restarted (scripts flushed) is
    sent the script again, and no record is lost or doubled."""
    producer = RedisProducer(_config(redis_url, shards=2))
    client = redis.Redis.from_url(redis_url)

    def append(batch: list[bytes]) -> None:
        _append(producer, batch, list(range(len(batch))), asynchronous=asynchronous)

    try:
        append([b"r0", b"r1", b"r2"])
        client.script_flush()
        append([b"r3", b"r4", b"r5"])
        streams = [
            [entry[1][b"r"] for entry in client.xrange(producer.config.stream(shard))]
            for shard in range(2)
        ]
        assert streams == [[b"r0", b"r2", b"r3", b"r5"], [b"r1", b"r4"]]
    finally:
        producer.close()
        client.close()
