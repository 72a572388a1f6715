"""Appends to the Redis streams that never block the event loop: one pipeline per round trip.

A collector's requests each wait for Redis to hold their records before they are answered, but
the event loop does not wait: the appends made while a round trip is under way are sent
together in the next one (one call of APPEND_SCRIPT, so every call's records go in all or
none), and each caller resumes once Redis has answered. One round trip is in
flight per event loop at a time, so the calls grow with the load. Every caller gets an
answer: None, QueueFull for a call that would pass a shard's bound, or QueueUnavailable. A call's
records may go to several shards (a batch of several visitors), still all or none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from footfall.queue.base import QueueError, QueueFull, QueueUnavailable

if TYPE_CHECKING:
    from footfall.queue.redis import RedisQueueConfig

log = logging.getLogger(__name__)

# The field of a stream entry that holds the record.
RECORD_FIELD = b"r"

# KEYS: the streams; ARGV[1]: the record field; ARGV[2 .. #KEYS + 1]: how many records go to
# each stream; then the records, stream by stream. Each record becomes its own entry, in order.
# A script runs alone on the server, so a call's records go in all or none, and the client
# sends one command whatever their number (packing one XADD per record cost more CPU in the
# producer than Redis spends storing it).
APPEND_SCRIPT = """
local at = #KEYS + 2
for k = 1, #KEYS do
  local stream, field = KEYS[k], ARGV[1]
  for _ = 1, tonumber(ARGV[k + 1]) do
    redis.call('XADD', stream, '*', field, ARGV[at])
    at = at + 1
  end
end
return at - #KEYS - 2
"""


def append_arguments(
    config: RedisQueueConfig, shards: Sequence[int], records: Sequence[bytes]
) -> tuple[list[str], list[bytes | int]]:
    """APPEND_SCRIPT's keys and arguments for `records`, each going to its shard's stream."""
    by_shard: dict[int, list[bytes]] = {}
    for shard, record in zip(shards, records, strict=True):
        by_shard.setdefault(shard, []).append(record)
    keys = [config.stream(shard) for shard in by_shard]
    args: list[bytes | int] = [RECORD_FIELD, *(len(group) for group in by_shard.values())]
    for group in by_shard.values():
        args.extend(group)
    return keys, args


# How stale the producer's view of the shards' lengths may be: the bound is checked against it,
# so a shard may pass max_len by what arrives in this long, and one XLEN round trip per interval
# replaces one per request.
LENGTHS_TTL_S = 0.1


class ShardLengths:
    """A producer's view of the shards' lengths: read at most every LENGTHS_TTL_S, plus the
    records it appended since."""

    def __init__(self, shards: int) -> None:
        self.values = [0] * shards
        self._read_at = float("-inf")

    def stale(self) -> bool:
        return time.monotonic() - self._read_at >= LENGTHS_TTL_S

    def update(self, lengths: Sequence[Any]) -> None:
        self.values = [int(length) for length in lengths]
        self._read_at = time.monotonic()

    def expire(self) -> None:
        """Read them again before the next check (an append may or may not have gone in)."""
        self._read_at = float("-inf")


@dataclass(frozen=True, slots=True)
class _Append:
    """One caller's records with their shards, waiting for the next round trip."""

    shards: Sequence[int]
    records: Sequence[bytes]
    done: asyncio.Future[None]

    def counts(self) -> dict[int, int]:
        """Records per shard."""
        found: dict[int, int] = {}
        for shard in self.shards:
            found[shard] = found.get(shard, 0) + 1
        return found


class AsyncAppender:
    """The appends of one event loop: whatever arrives while a round trip is under way goes
    out together in the next one, so the loop never waits and Redis sees few, full calls."""

    def __init__(
        self,
        config: RedisQueueConfig,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout_s: float,
        read_timeout_s: float,
    ) -> None:
        self.loop = loop
        self._config = config
        pool = aioredis.ConnectionPool.from_url(
            config.url,
            retry=Retry(NoBackoff(), 0),  # answer 503 after one timeout, never several
            max_connections=2,
            socket_connect_timeout=timeout_s,
            socket_timeout=read_timeout_s,
            health_check_interval=30,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self._append_script = self._redis.register_script(APPEND_SCRIPT)
        self._lengths = ShardLengths(config.shards)
        self._waiting: list[_Append] = []
        self._sender: asyncio.Task[None] | None = None

    async def append(self, shards: Sequence[int], records: Sequence[bytes]) -> None:
        """Append `records`, each to the stream of its shard in `shards`."""
        done: asyncio.Future[None] = self.loop.create_future()
        self._waiting.append(_Append(shards, records, done))
        if self._sender is None:
            self._sender = self.loop.create_task(self._send_waiting())
        await done

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()

    async def _send_waiting(self) -> None:
        """Send what waits, then what arrived meanwhile, until nothing does. Every caller is
        answered, whatever happens: a 2xx, or an error its route turns into a 503."""
        batch: list[_Append] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._send(batch)
                except QueueError as exc:
                    for item in batch:
                        _settle(item.done, exc)
                except Exception as exc:  # a bug here must not leave requests hanging
                    log.exception("appending to Redis failed")
                    for item in batch:
                        _settle(item.done, QueueUnavailable(f"redis: {exc}"))
        finally:
            self._sender = None
            # Left only when cancelled (the loop is closing): nothing of these is known to be in.
            cancelled = QueueUnavailable("redis: the append was cancelled")
            for item in [*batch, *self._waiting]:
                _settle(item.done, cancelled)
            self._waiting = []

    async def _send(self, batch: list[_Append]) -> None:
        """One round trip for the batch's records (two when the lengths are due a refresh)."""
        config = self._config
        try:
            if self._lengths.stale():
                pipe = self._redis.pipeline(transaction=False)
                for shard in range(config.shards):
                    pipe.xlen(config.stream(shard))
                self._lengths.update(await pipe.execute())
            accepted = self._within_bounds(batch)
            if not accepted:
                return
            shards = [shard for item in accepted for shard in item.shards]
            records = [record for item in accepted for record in item.records]
            keys, args = append_arguments(config, shards, records)
            await self._append_script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._lengths.expire()
            raise QueueUnavailable(f"redis: {exc}") from exc
        for item in accepted:
            _settle(item.done, None)

    def _within_bounds(self, batch: list[_Append]) -> list[_Append]:
        """The appends that keep every shard within max_len (counted in); QueueFull to the
        others."""
        config, lengths = self._config, self._lengths.values
        accepted: list[_Append] = []
        for item in batch:
            counts = item.counts()
            full = [shard for shard, n in counts.items() if lengths[shard] + n > config.max_len]
            if full:
                stream = config.stream(full[0])
                _settle(item.done, QueueFull(f"{stream} holds its bound of {config.max_len}"))
                continue
            for shard, n in counts.items():
                lengths[shard] += n
            accepted.append(item)
        return accepted


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the caller went away (cancelled)
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
