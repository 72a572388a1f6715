"""The scale-out queue: Redis Streams sharded by visitor, read by workers through a consumer group.

`redis://host:6379/0?shards=4&max_len=1000000&claim_idle_ms=30000` names the Redis database and
the queue's shape. A record goes to stream `footfall:events:<shard_key % shards>`, so a visitor's
events stay in order on one stream and one worker. Every shard is bounded: the producer checks the
shard's length (read at most every 0.1 s, plus its own appends since) and answers QueueFull (503)
instead of trimming events it already accepted; a shard may pass max_len by what arrives within
0.1 s.

Collectors append with `append_async`, which never blocks their event loop: the appends made
while the previous round trip is under way are sent together in one call of a script that adds
each record as its own entry (a script runs alone, so each request's records go in all or none),
and each caller resumes once Redis has answered, so a 2xx still follows the XADD
(queue.redis_append). `append` is the blocking form (one round trip per call) for code without
an event loop, such as the log importer.

Workers read with XREADGROUP in the group `footfall-workers`, insert, then XACK and XDEL the
entries (so the length counts only what is not yet stored). Entries left pending by a worker
that died are taken over with XAUTOCLAIM once idle for `claim_idle_ms`; such a batch may have
been inserted before the crash, so `redelivered(batch)` tells the worker to insert it with
dedupe.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from footfall.queue.base import Batch, QueueFull, QueueUnavailable, ShardKey
from footfall.queue.redis_append import (
    APPEND_SCRIPT,
    RECORD_FIELD,
    AsyncAppender,
    ShardLengths,
    append_arguments,
)

log = logging.getLogger(__name__)

GROUP = "footfall-workers"
STREAM_PREFIX = "footfall:events:"
_FIELD = RECORD_FIELD
_SOCKET_TIMEOUT_S = 2.0
# A collector appends on its event loop: an unreachable (not refusing) Redis must cost each
# request well under a second before it is answered 503.
_PRODUCER_TIMEOUT_S = 0.5
# A blocking read waits at most this long per call, so that a stop request is seen quickly.
_MAX_BLOCK_MS = 1000

# KEYS[1]: a stream; ARGV[1]: the group; ARGV[2]: this consumer; ARGV[3...]: entry ids. Keeps
# (resets the idle time of) the entries still pending on this consumer, atomically, so none is
# taken over while it is being inserted; returns those ids. Ids taken over already are left.
_HOLD_SCRIPT = """
local kept = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    kept[#kept + 1] = ARGV[i]
  end
end
for first = 1, #kept, 1000 do
  local last = math.min(first + 999, #kept)
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(kept, first, last))
end
return kept
"""


@dataclass(frozen=True)
class RedisQueueConfig:
    """The queue's shape, read from the URL's query string (defaults suit one machine)."""

    url: str
    shards: int = 4
    max_len: int = 1_000_000
    claim_idle_ms: int = 30_000

    @classmethod
    def from_url(cls, url: str) -> RedisQueueConfig:
        """Split `redis://...?shards=&max_len=&claim_idle_ms=` into the connection URL and shape.

        Raises ValueError for an unknown option or a value that is not a positive integer.
        """
        parts = urlsplit(url)
        options: dict[str, int] = {}
        for name, values in parse_qs(parts.query, strict_parsing=False).items():
            if name not in {"shards", "max_len", "claim_idle_ms"}:
                raise ValueError(
                    f"FOOTFALL_QUEUE_URL: unknown option {name!r}; "
                    "expected shards, max_len or claim_idle_ms"
                )
            try:
                value = int(values[-1])
            except ValueError:
                value = 0
            if value < 1:
                raise ValueError(f"FOOTFALL_QUEUE_URL: {name} must be a positive integer")
            options[name] = value
        plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return cls(url=plain, **options)

    def stream(self, shard: int) -> str:
        """The stream key of one shard."""
        return f"{STREAM_PREFIX}{shard}"

    def shard_of(self, shard_key: int) -> int:
        """The shard of a visitor hash (any int; negative ones too)."""
        return shard_key % self.shards


def _client(
    config: RedisQueueConfig, pool_size: int, timeout_s: float, *, retries: int
) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        config.url,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
        max_connections=pool_size,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s + _MAX_BLOCK_MS / 1000,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


@contextmanager
def _reachable() -> Iterator[None]:
    """Turn Redis connection failures into QueueUnavailable (collectors answer 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise QueueUnavailable(f"redis: {exc}") from exc


class RedisProducer:
    """Collector side: bounded appends, all or none per call; see the module docstring."""

    def __init__(self, config: RedisQueueConfig, *, pool_size: int = 8) -> None:
        self.config = config
        # No retries: the client's own retry would answer after several timeouts, not one.
        self._redis = _client(config, pool_size, _PRODUCER_TIMEOUT_S, retries=0)
        self._append_script = self._redis.register_script(APPEND_SCRIPT)
        self._lengths = ShardLengths(config.shards)
        self._appender: AsyncAppender | None = None

    def append(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """Add `records` to their visitors' shards, all or none; returns once Redis has them.

        `shard_key` is one key for every record or one per record (a batch of several
        visitors: each visitor's events stay on its shard, so one worker sees its visits).
        Blocks for the round trip (XADD, or one APPEND_SCRIPT call for several). Raises QueueFull
        when a shard would pass its bound, QueueUnavailable when Redis cannot be reached; in
        both cases nothing was added.
        """
        if not records:
            return
        shards = self._shards(records, shard_key)
        counts: dict[int, int] = {}
        for shard in shards:
            counts[shard] = counts.get(shard, 0) + 1
        with _reachable():
            lengths = self._current_lengths()
            for shard, count in counts.items():
                if lengths[shard] + count > self.config.max_len:
                    stream = self.config.stream(shard)
                    raise QueueFull(f"{stream} holds its bound of {self.config.max_len}")
            if len(records) == 1:
                self._redis.xadd(self.config.stream(shards[0]), {_FIELD: records[0]})
            else:
                keys, args = append_arguments(self.config, shards, records)
                self._append_script(keys=keys, args=args)
        for shard, count in counts.items():
            lengths[shard] += count

    def _shards(self, records: Sequence[bytes], shard_key: ShardKey) -> list[int]:
        if isinstance(shard_key, int):
            return [self.config.shard_of(shard_key)] * len(records)
        if len(shard_key) != len(records):
            raise ValueError("one shard key per record, or one for all")
        return [self.config.shard_of(key) for key in shard_key]

    async def append_async(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """`append` without blocking the event loop: returns once Redis has the records.

        Concurrent calls share round trips (see the module docstring). Raises QueueFull and
        QueueUnavailable as `append` does.
        """
        if not records:
            return
        loop = asyncio.get_running_loop()
        appender = self._appender
        if appender is None or appender.loop is not loop:
            # Connections belong to one event loop; a server runs one for its whole life.
            appender = self._appender = AsyncAppender(
                self.config,
                loop,
                timeout_s=_PRODUCER_TIMEOUT_S,
                read_timeout_s=_PRODUCER_TIMEOUT_S + _MAX_BLOCK_MS / 1000,
            )
        await appender.append(self._shards(records, shard_key), records)

    async def aclose(self) -> None:
        """Release the event loop's connections (then `close` the rest)."""
        appender, self._appender = self._appender, None
        if appender is not None and appender.loop is asyncio.get_running_loop():
            try:
                await appender.close()
            except (RedisError, OSError) as exc:  # shutting down: nothing is left to lose
                log.warning("closing the Redis connections: %s", exc)

    def _current_lengths(self) -> list[int]:
        """The shards' lengths, read again once stale (own appends added since)."""
        if self._lengths.stale():
            pipe = self._redis.pipeline(transaction=False)
            for shard in range(self.config.shards):
                pipe.xlen(self.config.stream(shard))
            self._lengths.update(pipe.execute())
        return self._lengths.values

    def depth(self) -> int:
        """Entries queued and not yet stored, over all shards."""
        with _reachable():
            pipe = self._redis.pipeline(transaction=False)
            for shard in range(self.config.shards):
                pipe.xlen(self.config.stream(shard))
            return sum(cast(list[int], pipe.execute()))

    def depth_bytes(self) -> int:
        """Memory Redis uses for the shards' streams (0 when Redis cannot be reached)."""
        try:
            with _reachable():
                pipe = self._redis.pipeline(transaction=False)
                for shard in range(self.config.shards):
                    pipe.memory_usage(self.config.stream(shard))
                return sum(int(used or 0) for used in pipe.execute())
        except QueueUnavailable:
            return 0

    def close(self) -> None:
        """Release the connections."""
        self._redis.close()
        self._redis.connection_pool.disconnect()


@dataclass(frozen=True)
class _Entry:
    stream: str
    entry_id: bytes


class RedisConsumer:
    """Worker side: batches from the shards it reads, claimed from dead workers first."""

    def __init__(
        self,
        config: RedisQueueConfig,
        *,
        shards: Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.shards = list(range(config.shards)) if shards is None else sorted(set(shards))
        for shard in self.shards:
            if not 0 <= shard < config.shards:
                raise ValueError(f"shard {shard} is outside 0..{config.shards - 1}")
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._redis = _client(config, 2, _SOCKET_TIMEOUT_S, retries=2)
        self._held: dict[int, list[tuple[_Entry, bytes]]] = {}
        self._hold = self._redis.register_script(_HOLD_SCRIPT)
        self._redelivered: set[int] = set()
        self._batch_ids = itertools.count(1)
        self._batch_base = secrets.randbits(40) << 22
        self._next_claim = 0.0
        self._groups_ready = False

    def seek(self, position: str | None) -> None:
        """The consumer group keeps the read position; nothing to do."""

    def fetch(self, max_records: int, timeout: float) -> Batch | None:
        """Up to `max_records`: entries idle on dead consumers first, then new ones.

        Raises QueueUnavailable when Redis cannot be reached.
        """
        with _reachable():
            self._ensure_groups()
            claimed = self._claim(max_records)
            if claimed:
                return self._batch(claimed, redelivered=True)
            block_ms = max(1, min(int(timeout * 1000), _MAX_BLOCK_MS))
            reply: list[Any] = cast(Any, self._redis).xreadgroup(
                GROUP,
                self.name,
                {self.config.stream(shard): ">" for shard in self.shards},
                # COUNT applies per stream: share max_records out over the shards.
                count=max(1, -(-max_records // len(self.shards))),
                block=block_ms,
            )
        entries: list[tuple[_Entry, bytes]] = []
        for stream, messages in reply or ():
            key = stream.decode() if isinstance(stream, bytes) else str(stream)
            for entry_id, fields in messages:
                entries.append((_Entry(key, entry_id), fields[_FIELD]))
        if not entries:
            return None
        # Every entry read is now pending on this consumer: keep them all, even the few past
        # max_records when there are more shards than records asked for.
        return self._batch(entries, redelivered=False)

    def redelivered(self, batch: Batch) -> bool:
        """True when the batch may have been stored already (taken over from a dead worker)."""
        return batch.batch_id in self._redelivered

    def ack(self, batch: Batch) -> None:
        """Acknowledge and delete the batch's entries: they are in the store."""
        entries = self._held.get(batch.batch_id, [])
        by_stream: dict[str, list[bytes]] = {}
        for entry, _ in entries:
            by_stream.setdefault(entry.stream, []).append(entry.entry_id)
        with _reachable():
            pipe = self._redis.pipeline(transaction=True)
            for stream, ids in by_stream.items():
                pipe.xack(stream, GROUP, *ids)
                pipe.xdel(stream, *ids)
            pipe.execute()
        self._held.pop(batch.batch_id, None)
        self._redelivered.discard(batch.batch_id)

    def hold(self, batch: Batch) -> Batch:
        """Reset the idle time of the batch's entries just before inserting them, and leave out
        any another worker has taken over meanwhile (it stores those). Call right before the
        insert, which must then finish within claim_idle_ms.

        Raises QueueUnavailable when Redis cannot be reached.
        """
        entries = self._held.get(batch.batch_id, [])
        streams = sorted({entry.stream for entry, _ in entries})
        with _reachable():
            pipe = self._redis.pipeline(transaction=False)
            for stream in streams:
                ids = [entry.entry_id for entry, _ in entries if entry.stream == stream]
                self._hold(keys=[stream], args=[GROUP, self.name, *ids], client=pipe)
            replies = pipe.execute()
        kept_ids = {
            (stream, entry_id)
            for stream, ids in zip(streams, replies, strict=True)
            for entry_id in ids
        }
        kept = [
            (entry, record)
            for entry, record in entries
            if (entry.stream, entry.entry_id) in kept_ids
        ]
        if len(kept) < len(entries):
            log.warning(
                "%d entries were taken over by another worker before being stored here",
                len(entries) - len(kept),
            )
        self._held[batch.batch_id] = kept
        return Batch(records=[record for _, record in kept], position=None, batch_id=batch.batch_id)

    def release(self, batch: Batch) -> None:
        """Let go of a batch without acknowledging it: it stays pending and, once idle for
        claim_idle_ms, is taken over (with dedupe) by whichever worker claims first."""
        self._held.pop(batch.batch_id, None)
        self._redelivered.discard(batch.batch_id)

    def retire(self, position: str) -> None:
        """Acknowledged entries are deleted at once; nothing is left to retire."""

    def close(self) -> None:
        """Release the connections; unacknowledged entries stay pending for another worker."""
        self._redis.close()
        self._redis.connection_pool.disconnect()

    def _ensure_groups(self) -> None:
        if self._groups_ready:
            return
        for shard in self.shards:
            try:
                self._redis.xgroup_create(self.config.stream(shard), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    def _claim(self, max_records: int) -> list[tuple[_Entry, bytes]]:
        """Entries pending longer than claim_idle_ms on any consumer (checked every so often)."""
        now = time.monotonic()
        if now < self._next_claim:
            return []
        self._next_claim = now + self.config.claim_idle_ms / 4000
        claimed: list[tuple[_Entry, bytes]] = []
        for shard in self.shards:
            stream = self.config.stream(shard)
            start: bytes | str = "0-0"
            while len(claimed) < max_records:
                reply = cast(
                    list[Any],
                    cast(Any, self._redis).xautoclaim(
                        stream,
                        GROUP,
                        self.name,
                        min_idle_time=self.config.claim_idle_ms,
                        start_id=start,
                        count=max_records - len(claimed),
                    ),
                )
                start, messages = reply[0], reply[1]
                for entry_id, fields in messages:
                    # Entries deleted while pending come back without fields: nothing to store.
                    if fields:
                        claimed.append((_Entry(stream, entry_id), fields[_FIELD]))
                    else:
                        self._redis.xack(stream, GROUP, entry_id)
                if start in (b"0-0", "0-0"):
                    break
        if claimed:
            log.info("took over %d entries left pending by a stopped worker", len(claimed))
            self._next_claim = 0.0  # there may be more: look again on the next fetch
        return claimed

    def _batch(self, entries: list[tuple[_Entry, bytes]], *, redelivered: bool) -> Batch:
        batch_id = self._batch_base | next(self._batch_ids)
        self._held[batch_id] = entries
        if redelivered:
            self._redelivered.add(batch_id)
        return Batch(records=[record for _, record in entries], position=None, batch_id=batch_id)


def open_redis_queue(url: str) -> tuple[RedisProducer, RedisConsumer]:
    """The producer and a consumer (all shards) for a redis:// queue URL."""
    config = RedisQueueConfig.from_url(url)
    return RedisProducer(config), RedisConsumer(config)
