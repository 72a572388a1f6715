"""The queue between collectors and the writer: one Protocol, two backends (spool, Redis Streams).

Collectors only `append`; the writer `fetch`es batches, stores them, then `ack`s them. A record is
acknowledged to the client only after `append` returns, so an accepted event is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class QueueError(Exception):
    """The queue cannot take records now; collectors answer 503 and never a 2xx."""

    retry_after: int = 5


class QueueFull(QueueError):
    """The queue holds its bound (FOOTFALL_SPOOL_MAX_BYTES); collectors answer 503 + Retry-After."""

    retry_after = 10


class QueueUnavailable(QueueError):
    """The queue's backing service is unreachable."""


@dataclass(frozen=True)
class Batch:
    """Records fetched together, with what the consumer needs to acknowledge them.

    `position` is the opaque resume point after this batch (spool: segment and offset), stored
    by the event store in the same transaction as the rows; `batch_id` identifies the batch for
    stores that dedupe re-inserted batches.
    """

    records: list[bytes]
    position: str | None
    batch_id: int


# A record's shard key (its visitor): one for all of an append's records, or one per record.
ShardKey = int | Sequence[int]


class Producer(Protocol):
    """Collector side: durable append."""

    def append(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """Make records durable (at least written to the OS) before returning, all or none.

        Raises QueueFull or QueueUnavailable instead of dropping anything.
        """
        ...

    def depth_bytes(self) -> int:
        """Bytes held and not yet retired, for /metrics and the 503 bound."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncProducer(Protocol):
    """A producer whose append has a form that never blocks the event loop (Redis)."""

    async def append_async(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """Like Producer.append, awaiting the backing service instead of blocking on it."""
        ...

    async def aclose(self) -> None:
        """Release what `append_async` opened on the running event loop (before `close`)."""
        ...


class Consumer(Protocol):
    """Writer side: batches in order, resumable from a stored position."""

    def seek(self, position: str | None) -> None:
        """Resume after `position` (None: from the oldest record still held)."""
        ...

    def fetch(self, max_records: int, timeout: float) -> Batch | None:
        """Block up to `timeout` seconds for records; None when there were none."""
        ...

    def ack(self, batch: Batch) -> None:
        """The batch is stored; do not hand it out again in this process."""
        ...

    def retire(self, position: str) -> None:
        """Everything up to `position` is durable in the store (checkpointed): free it."""
        ...

    def close(self) -> None: ...
