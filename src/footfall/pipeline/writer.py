"""The writer: the one thread that moves batches from the queue through enrichment into the store.

Loop: gather up to `batch_size` records (waiting at most `flush_interval` after the first one),
decode, enrich, insert them with the queue position in one store transaction, acknowledge, and
every `checkpoint_interval` checkpoint the store and retire the queue up to what it covers.

On start it resumes from the position the store recorded and replays with dedupe until it has
caught up (the first batch that does not fill up). A failing store is retried with back-off,
never skipped: the batch stays in hand, in order, and the queue keeps the rest until it is full
(collectors then answer 503).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar, runtime_checkable

import msgspec

from footfall.events import Event, RawEvent, decode_raw
from footfall.metrics import EVENTS_STORED, FLUSH_BATCH_EVENTS, FLUSH_SECONDS, QUEUE_LAG_EVENTS
from footfall.queue.base import Batch, Consumer
from footfall.store import SessionStore
from footfall.store.base import apply_retention

log = logging.getLogger(__name__)

T = TypeVar("T")

_FIRST_RETRY_DELAY = 0.1
_MAX_RETRY_DELAY = 5.0
_RETENTION_EVERY_S = 3600.0
_WAIT_SLICE = 0.25
# Share of stop()'s timeout kept for the final checkpoint after draining.
_CHECKPOINT_RESERVE = 0.2


@runtime_checkable
class Enricher(Protocol):
    """What the writer needs from the enrichment step (footfall.pipeline.steps.Enricher)."""

    def process(self, raws: Sequence[RawEvent], batch_id: int = 0) -> list[Event]: ...

    def restore_sessions(self, rows: Iterable[tuple[int, int, int, int]]) -> None: ...


class BatchLoader(Protocol):
    """Turns a batch of queue records into stored rows (enrich, then insert with the position)."""

    def start(self, open_sessions: list[tuple[int, int, int, int]]) -> None:
        """Get ready, continuing the visits still open (read back from the store)."""
        ...

    def load(
        self, records: list[bytes], *, batch_id: int, position: str | None, dedupe: bool
    ) -> int:
        """Enrich and insert atomically with `position`; returns the rows inserted."""
        ...

    def close(self) -> None: ...


class InlineLoader:
    """Enriches in the writer thread and inserts the rows (tests, small setups, any store)."""

    def __init__(self, store: SessionStore, enricher: Enricher) -> None:
        self._store = store
        self._enricher = enricher

    def start(self, open_sessions: list[tuple[int, int, int, int]]) -> None:
        """Restore the sessionizer."""
        self._enricher.restore_sessions(open_sessions)

    def load(
        self, records: list[bytes], *, batch_id: int, position: str | None, dedupe: bool
    ) -> int:
        """Decode, enrich, insert."""
        events = enrich_batch(self._enricher, decode_records(records), batch_id)
        return self._store.insert(events, batch_id=batch_id, position=position, dedupe=dedupe)

    def close(self) -> None:
        """Nothing to release."""


class _Abandoned(Exception):
    """stop()'s deadline passed while the store kept failing; the queue keeps the rest."""


class Writer:
    """Runs the queue -> enrich -> store loop in its own thread (DuckDB and enrichment block)."""

    def __init__(
        self,
        consumer: Consumer,
        store: SessionStore,
        loader: BatchLoader | Enricher,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        checkpoint_interval: float = 30.0,
        session_timeout_s: int = 1800,
        retention_months: int = 0,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._loader: BatchLoader = (
            InlineLoader(store, loader) if isinstance(loader, Enricher) else loader
        )
        self._batch_size = max(1, batch_size)
        self._flush_interval = flush_interval
        self._checkpoint_interval = checkpoint_interval
        self._session_timeout_s = session_timeout_s
        self._retention_months = retention_months
        self._next_retention = 0.0  # monotonic time of the next retention pass
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._drain_deadline = float("inf")
        self._replaying = True
        self._last_error: str | None = None
        self.stored_total = 0  # rows inserted by this writer, for logs and tests

    @property
    def last_error(self) -> str | None:
        """The most recent failure (store or queue), None once an operation succeeds again."""
        return self._last_error

    def is_alive(self) -> bool:
        """True while the writer thread runs (for /readyz, together with `last_error`)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread; it resumes from the store's recorded queue position."""
        if self._thread is not None:
            raise RuntimeError("a Writer starts once")
        self._thread = threading.Thread(target=self._run, name="footfall-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Drain what the queue holds into the store, checkpoint, and end the thread.

        Returns True when the writer finished within `timeout`; what it could not store stays
        in the queue and is stored on the next start.
        """
        thread = self._thread
        if thread is None:
            return True
        self._drain_deadline = time.monotonic() + timeout * (1 - _CHECKPOINT_RESERVE)
        self._stopping.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning(
                "the writer did not finish within %.1f s; the queue keeps the rest", timeout
            )
            return False
        return True

    def _run(self) -> None:
        try:
            self._resume()
            self._loop()
        except _Abandoned:
            log.warning("stopping with the store failing; unstored events stay in the queue")
            return
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.exception("the writer stopped on an unexpected error")
            return
        finally:
            self._loader.close()
        self._checkpoint()

    def _resume(self) -> None:
        position = self._retry(self._store.position, "reading the stored queue position")
        self._consumer.seek(position)
        since = datetime.now(UTC) - timedelta(seconds=self._session_timeout_s)
        sessions = self._retry(lambda: self._store.recent_sessions(since), "restoring sessions")
        self._retry(lambda: self._loader.start(sessions), "starting enrichment")
        log.info(
            "writer resuming after queue position %s (%d open sessions)", position, len(sessions)
        )

    def _loop(self) -> None:
        last_checkpoint = time.monotonic()
        while True:
            try:
                batches = self._gather()
            except Exception as exc:
                self._note_failure(exc, "reading the queue")
                self._pause(_MAX_RETRY_DELAY)
                continue
            if batches:
                self._write(batches)
            elif self._stopping.is_set():
                return
            if self._stopping.is_set() and time.monotonic() >= self._drain_deadline:
                log.warning("drain time is up; the queue keeps the rest for the next start")
                return
            if time.monotonic() - last_checkpoint >= self._checkpoint_interval:
                self._checkpoint()
                last_checkpoint = time.monotonic()
            if self._retention_months and time.monotonic() >= self._next_retention:
                self._enforce_retention()

    def _gather(self) -> list[Batch]:
        """Batches totalling up to batch_size records, flushed flush_interval after the first."""
        first = self._fetch(self._batch_size, self._flush_interval)
        if first is None:
            self._replaying = False
            return []
        batches = [first]
        count = len(first.records)
        flush_at = time.monotonic() + self._flush_interval
        while count < self._batch_size:
            try:
                more = self._fetch(self._batch_size - count, flush_at - time.monotonic())
            except Exception as exc:
                # Store what is in hand; the next fetch meets the error again.
                self._note_failure(exc, "reading the queue")
                break
            if more is None:
                break
            batches.append(more)
            count += len(more.records)
        return batches

    def _fetch(self, max_records: int, wait: float) -> Batch | None:
        """One fetch waiting up to `wait` seconds, in short slices so stop() is seen quickly."""
        deadline = time.monotonic() + wait
        while True:
            remaining = 0.0 if self._stopping.is_set() else max(0.0, deadline - time.monotonic())
            batch = self._consumer.fetch(max_records, min(remaining, _WAIT_SLICE))
            if batch is not None or remaining <= _WAIT_SLICE:
                return batch

    def _write(self, batches: list[Batch]) -> None:
        records = [record for batch in batches for record in batch.records]
        QUEUE_LAG_EVENTS.set(len(records))
        started = time.perf_counter()
        batch_id = batches[0].batch_id
        dedupe = self._replaying
        inserted = self._retry(
            lambda: self._loader.load(
                records, batch_id=batch_id, position=batches[-1].position, dedupe=dedupe
            ),
            "storing a batch",
        )
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        FLUSH_BATCH_EVENTS.observe(inserted)
        EVENTS_STORED.inc(inserted)
        self.stored_total += inserted
        for batch in batches:
            try:
                self._consumer.ack(batch)
            except Exception as exc:
                # Stored already: a later redelivery is deduplicated, so never insert it again.
                self._note_failure(exc, "acknowledging a stored batch")
        QUEUE_LAG_EVENTS.set(0)
        if len(records) < self._batch_size:
            self._replaying = False

    def _enforce_retention(self) -> None:
        """Forget events older than the retention period (FOOTFALL_RETENTION_MONTHS), hourly."""
        self._next_retention = time.monotonic() + _RETENTION_EVERY_S
        try:
            apply_retention(self._store, self._retention_months, datetime.now(UTC))
        except Exception as exc:
            self._note_failure(exc, "applying retention")

    def _checkpoint(self) -> None:
        try:
            covered = self._store.checkpoint()
            if covered is not None:
                self._consumer.retire(covered)
        except Exception as exc:
            self._note_failure(exc, "checkpointing")

    def _retry(self, action: Callable[[], T], what: str) -> T:
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                result = action()
            except Exception as exc:
                self._note_failure(exc, what)
                if self._stopping.is_set() and time.monotonic() >= self._drain_deadline:
                    raise _Abandoned from exc
                self._pause(delay)
                delay = min(delay * 2, _MAX_RETRY_DELAY)
                continue
            self._last_error = None
            return result

    def _pause(self, seconds: float) -> None:
        if self._stopping.is_set():
            time.sleep(min(seconds, max(0.0, self._drain_deadline - time.monotonic())))
        else:
            self._stopping.wait(seconds)  # stop() cuts the back-off short

    def _note_failure(self, exc: Exception, what: str) -> None:
        self._last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.warning("writer: %s failed (%s); retrying", what, exc)


def decode_records(records: Sequence[bytes]) -> list[RawEvent]:
    """Decode queue records; one that does not decode is logged and skipped, never fatal."""
    raws = []
    for record in records:
        try:
            raws.append(decode_raw(record))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning(
                "queue record of %d bytes skipped: it does not decode (%s)", len(record), exc
            )
    return raws


def enrich_batch(enricher: Enricher, raws: list[RawEvent], batch_id: int) -> list[Event]:
    """Enrich a batch; if that fails, event by event, so one bad event cannot block the queue."""
    try:
        return enricher.process(raws, batch_id)
    except Exception:
        log.exception("enriching a batch failed; enriching its events one by one")
    events: list[Event] = []
    for raw in raws:
        try:
            events.extend(enricher.process([raw], batch_id))
        except Exception:
            log.exception("event %s dropped: enrichment failed", raw.event_id.hex())
    return events
