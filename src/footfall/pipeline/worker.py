"""The scale-out worker: reads its Redis shards, enriches, inserts, then acknowledges.

Loop: gather up to `batch_size` records (waiting at most `flush_interval` after the first),
enrich them with this worker's sessionizer (a visitor's events all arrive on one shard, so the
worker reading that shard sees the whole visit), insert them into the event store, and only
then XACK them. A crash before the acknowledgement leaves the entries pending; another worker
(or this one, restarted) takes them over after the queue's claim_idle_ms and inserts them with
dedupe, so nothing is lost and nothing is stored twice.

Right before each insert attempt the worker re-holds its entries (resetting their idle time and
leaving out any another worker took over), so an insert that finishes within claim_idle_ms is
never duplicated by a take-over. A failing store is retried with back-off for at most half of
claim_idle_ms; past that the batch is released unacknowledged (and taken over later, with
dedupe). Retries insert with dedupe too: an insert that failed on the way back (connection lost
after the server stored the rows) must not store them again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from footfall.metrics import EVENTS_STORED, FLUSH_BATCH_EVENTS, FLUSH_SECONDS, QUEUE_LAG_EVENTS
from footfall.pipeline.writer import BatchLoader
from footfall.queue.base import Batch
from footfall.queue.redis import RedisConsumer
from footfall.store import SessionStore
from footfall.store.base import apply_retention

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETENTION_EVERY_S = 3600.0
_FIRST_RETRY_DELAY = 0.1
_MAX_RETRY_DELAY = 5.0

WORKER_ALIVE = Gauge("footfall_worker_alive", "1 while the worker loop runs.")
WORKER_REDELIVERED = Gauge(
    "footfall_worker_redelivered_batches", "Batches taken over from stopped workers so far."
)


class _GaveUp(Exception):
    """Retrying ran out of time (store down too long, or the worker is stopping)."""


class Worker:
    """Runs the Redis -> enrich -> store loop in its own thread."""

    def __init__(
        self,
        consumer: RedisConsumer,
        store: SessionStore,
        loader: BatchLoader,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        session_timeout_s: int = 1800,
        checkpoint_interval: float = 30.0,
        retention_months: int = 0,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._loader = loader
        self._batch_size = max(1, batch_size)
        self._flush_interval = flush_interval
        self._session_timeout_s = session_timeout_s
        self._hold_s = consumer.config.claim_idle_ms / 2000
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self._redelivered = 0
        self.stored_total = 0
        self._checkpoint_interval = checkpoint_interval
        self._retention_months = retention_months
        self._next_checkpoint = time.monotonic() + checkpoint_interval
        self._next_retention = 0.0  # at start, then hourly

    @property
    def last_error(self) -> str | None:
        """The most recent failure, None once an operation succeeds again."""
        return self._last_error

    def is_alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("a Worker starts once")
        self._thread = threading.Thread(target=self._run, name="footfall-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Finish the batch in hand and end; returns True when the thread ended in time."""
        thread = self._thread
        if thread is None:
            return True
        self._stopping.set()
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        WORKER_ALIVE.set(1)
        try:
            since = datetime.now(UTC) - timedelta(seconds=self._session_timeout_s)
            sessions = self._retry(
                lambda: self._store.recent_sessions(since), "restoring sessions", None
            )
            self._loader.start(sessions)
            log.info("worker %s reading shards %s", self._consumer.name, self._consumer.shards)
            while not self._stopping.is_set():
                batches = self._gather()
                if batches:
                    self._write(batches)
                self._maintain()
        except _GaveUp:
            log.warning("worker stopping; unacknowledged entries stay pending in Redis")
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.exception("the worker stopped on an unexpected error")
        finally:
            WORKER_ALIVE.set(0)
            self._loader.close()

    def _maintain(self) -> None:
        """Every checkpoint_interval, checkpoint the store (DuckDB rolls up its closed visits);
        hourly with FOOTFALL_RETENTION_MONTHS, forget events past the retention period. Several
        workers may do both: dropping a month twice drops nothing more."""
        now = time.monotonic()
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self._checkpoint_interval
            try:
                self._store.checkpoint()
            except Exception as exc:
                self._note_failure(exc, "checkpointing")
        if self._retention_months and now >= self._next_retention:
            self._next_retention = now + _RETENTION_EVERY_S
            try:
                apply_retention(self._store, self._retention_months, datetime.now(UTC))
            except Exception as exc:
                self._note_failure(exc, "applying retention")

    def _gather(self) -> list[Batch]:
        """Batches totalling up to batch_size records, flushed flush_interval after the first."""
        batches: list[Batch] = []
        count = 0
        flush_at = float("inf")
        while count < self._batch_size and not self._stopping.is_set():
            wait = min(self._flush_interval, flush_at - time.monotonic())
            if wait <= 0:
                break
            try:
                batch = self._consumer.fetch(self._batch_size - count, wait)
            except Exception as exc:
                self._note_failure(exc, "reading the queue")
                if batches:
                    break
                self._stopping.wait(1.0)
                continue
            self._last_error = None
            if batch is None:
                # Nothing more within the wait: flush what there is, or, idle, give the loop a
                # turn for its checkpoints and retention.
                break
            if not batches:
                flush_at = time.monotonic() + self._flush_interval
            batches.append(batch)
            count += len(batch.records)
        return batches

    def _write(self, batches: list[Batch]) -> None:
        redelivered = sum(1 for batch in batches if self._consumer.redelivered(batch))
        dedupe = redelivered > 0
        self._redelivered += redelivered
        WORKER_REDELIVERED.set(self._redelivered)
        QUEUE_LAG_EVENTS.set(sum(len(batch.records) for batch in batches))
        started = time.perf_counter()
        deadline = time.monotonic() + self._hold_s
        held = batches
        attempts = 0

        def hold_and_load() -> int:
            # Re-hold before every attempt: the insert then has claim_idle_ms to finish before
            # anyone may take these entries over.
            nonlocal held, attempts
            # A failed attempt may have stored the rows all the same (the server took the
            # insert, the answer was lost): every retry inserts with dedupe.
            retry = attempts > 0
            attempts += 1
            held = [self._consumer.hold(batch) for batch in held]
            records = [record for batch in held for record in batch.records]
            if not records:
                return 0
            return self._loader.load(
                records, batch_id=held[0].batch_id, position=None, dedupe=dedupe or retry
            )

        try:
            inserted = self._retry(hold_and_load, "storing a batch", deadline)
        except _GaveUp:
            for batch in held:
                self._consumer.release(batch)
            if self._stopping.is_set():
                raise
            log.warning("released a batch unstored; it is taken over later, with dedupe")
            return
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        FLUSH_BATCH_EVENTS.observe(inserted)
        EVENTS_STORED.inc(inserted)
        self.stored_total += inserted
        for batch in held:
            try:
                self._consumer.ack(batch)
            except Exception as exc:
                # Stored already: the entries come back as redelivered and are deduplicated.
                self._note_failure(exc, "acknowledging a stored batch")
                self._consumer.release(batch)
        QUEUE_LAG_EVENTS.set(0)

    def _retry(self, action: Callable[[], T], what: str, deadline: float | None) -> T:
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                result = action()
            except Exception as exc:
                self._note_failure(exc, what)
                out_of_time = deadline is not None and time.monotonic() + delay >= deadline
                if out_of_time or self._stopping.wait(delay):
                    raise _GaveUp from exc
                delay = min(delay * 2, _MAX_RETRY_DELAY)
                continue
            self._last_error = None
            return result

    def _note_failure(self, exc: Exception, what: str) -> None:
        self._last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.warning("worker: %s failed (%s); retrying", what, exc)


def worker_app(worker: Worker, on_stop: Callable[[], None]) -> Starlette:
    """/healthz and /metrics for one worker; starts it at startup and stops it at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            on_stop()

    async def healthz(request: Request) -> Response:
        if not worker.is_alive():
            return JSONResponse({"status": "stopped", "error": worker.last_error}, status_code=503)
        if worker.last_error is not None:
            return JSONResponse({"status": "degraded", "error": worker.last_error}, status_code=503)
        return PlainTextResponse("ok")

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
