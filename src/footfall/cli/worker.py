"""`footfall worker`: a scale-out worker process (Redis shards -> enrichment -> event store)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from footfall.pipeline.steps import Enricher
from footfall.pipeline.worker import Worker, worker_app
from footfall.pipeline.writer import InlineLoader
from footfall.queue.redis import RedisConsumer, RedisQueueConfig
from footfall.settings import Settings, url_scheme
from footfall.store import open_event_store

# Visitors whose open visit the sessionizer remembers (~350 bytes each), per worker.
SESSION_MAX_VISITORS = 200_000


def parse_shards(text: str, shards: int) -> list[int] | None:
    """`0,2-3` -> [0, 2, 3]; empty -> None (every shard). Raises ValueError when malformed."""
    if not text.strip():
        return None
    chosen: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"--shards {text!r}: expected numbers like 0,2-3") from None
        if not 0 <= first <= last < shards:
            raise ValueError(f"--shards {text!r}: shards are numbered 0..{shards - 1}")
        chosen.update(range(first, last + 1))
    return sorted(chosen)


def worker(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address for /healthz and /metrics.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for /healthz and /metrics.")] = 9100,
    shards: Annotated[
        str,
        typer.Option(help="Shards to read, e.g. 0-1 or 0,2 (default: all, shared by group)."),
    ] = "",
) -> None:
    """Move events from the Redis queue into the event store (run one or more per machine)."""
    settings: Settings = ctx.obj.settings if ctx.obj is not None else Settings.load()
    if url_scheme(settings.queue_url) not in {"redis", "rediss"}:
        raise ValueError(
            f"FOOTFALL_QUEUE_URL={settings.queue_url!r}: `footfall worker` reads a redis:// "
            "queue; the embedded spool is written by `footfall serve --role all` itself"
        )
    settings = settings.with_secret()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = RedisQueueConfig.from_url(settings.queue_url)
    consumer = RedisConsumer(config, shards=parse_shards(shards, config.shards))
    store = open_event_store(settings)
    enricher = Enricher(
        secret_key=settings.secret_key.encode(),
        session_timeout_s=settings.session_timeout,
        max_visitors=SESSION_MAX_VISITORS,
    )
    loop = Worker(
        consumer,
        store,
        InlineLoader(store, enricher),
        batch_size=settings.batch_size,
        flush_interval=settings.flush_interval,
        session_timeout_s=settings.session_timeout,
        checkpoint_interval=settings.checkpoint_interval,
        retention_months=settings.retention_months,
    )

    def close() -> None:
        consumer.close()
        store.close()

    uvicorn.run(
        worker_app(loop, close),
        host=host,
        port=port,
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=8,
        server_header=False,
    )
