"""The queue package: opens the queue named by FOOTFALL_QUEUE_URL (spool:///path or redis://)."""

from __future__ import annotations

from footfall.queue.base import (
    Batch,
    Consumer,
    Producer,
    QueueError,
    QueueFull,
    QueueUnavailable,
)
from footfall.queue.spool import Spool, SpoolLockedError
from footfall.settings import Settings, url_scheme

__all__ = [
    "Batch",
    "Consumer",
    "Producer",
    "QueueError",
    "QueueFull",
    "QueueUnavailable",
    "Spool",
    "SpoolLockedError",
    "open_queue",
]


def open_queue(settings: Settings) -> tuple[Producer, Consumer]:
    """The producer and consumer for `settings.queue_url` (one object for the spool).

    Raises ValueError for a URL scheme no backend handles, and SpoolLockedError when another
    process owns the spool folder. Opening a Redis queue connects lazily: nothing fails here
    when Redis is down (appends raise QueueUnavailable instead).
    """
    scheme = url_scheme(settings.queue_url)
    if scheme == "spool":
        spool = Spool(
            settings.spool_path,
            segment_bytes=settings.spool_segment_bytes,
            max_bytes=settings.spool_max_bytes,
            fsync_interval=settings.spool_fsync_interval,
        )
        return spool, spool
    if scheme in {"redis", "rediss"}:
        # Imported here: the embedded mode never loads the Redis client.
        from footfall.queue.redis import open_redis_queue

        return open_redis_queue(settings.queue_url)
    raise ValueError(
        f"FOOTFALL_QUEUE_URL={settings.queue_url!r}: unknown queue scheme {scheme!r}; "
        "expected spool:///<folder> or redis://<host>:<port>/<db>"
    )
