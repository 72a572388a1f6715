"""The event store Protocol: DuckDB embedded, ClickHouse scale-out; same rows, same answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from footfall.events import Event

log = logging.getLogger(__name__)


class EventStore(Protocol):
    """Where enriched events live. One writer inserts; any number of readers query."""

    # "duckdb" or "clickhouse": which query dialect renders SQL (and parameters) for this store.
    dialect_name: str
    # Whether the store keeps the per-visit rollup the planner may read (footfall.store.visits).
    has_visit_rollup: bool

    def insert(
        self,
        events: Sequence[Event],
        *,
        batch_id: int = 0,
        position: str | None = None,
        dedupe: bool = False,
    ) -> int:
        """Insert a batch atomically, recording `position` in the same transaction.

        With `dedupe`, rows whose event_id is already stored are skipped (used while replaying
        the queue after a crash). A row the store cannot take (a value outside its column's
        range) is logged and skipped, so one bad row never blocks the queue; any exception
        means nothing of the batch was stored and the writer retries it. Returns the number of
        rows inserted.
        """
        ...

    def position(self) -> str | None:
        """The queue position recorded with the last committed batch (None: nothing yet)."""
        ...

    def checkpoint(self) -> str | None:
        """Make everything committed durable in the main file; returns the covered position."""
        ...

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query with bound parameters on a reader cursor."""
        ...

    def close(self) -> None: ...


class Snapshot(Protocol):
    """Reads that all see the store as of one moment (one read transaction)."""

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query with bound parameters in the snapshot."""
        ...

    def remember(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """`compute()`'s value, kept by the store for later snapshots until its next write
        that could change it (footfall.store.visits.generation)."""
        ...


@runtime_checkable
class RollupStore(Protocol):
    """A store that keeps the visit rollup and its per-day sums of each site, in the site's
    zone (footfall.store.visits, footfall.store.visit_days)."""

    def summarised(self, site_id: int, zone: str) -> bool:
        """Whether the sums hold the site's days in `zone`; when not, the store builds them
        at its next checkpoint."""
        ...

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """A snapshot to run a query's statements in."""
        ...


@runtime_checkable
class RetainingStore(Protocol):
    """A store that can forget events older than a cutoff (FOOTFALL_RETENTION_MONTHS)."""

    def delete_before(self, cutoff: datetime) -> int:
        """Delete events with ts < cutoff (UTC); returns how many went (or -1 when unknown)."""
        ...


def apply_retention(store: object, months: int, now: datetime) -> None:
    """Delete `store`'s events older than `months` of retention allow (FOOTFALL_RETENTION_MONTHS),
    logging what went; a store that cannot delete is logged and left alone. Errors propagate."""
    if not isinstance(store, RetainingStore):
        log.warning("this event store cannot delete old events; retention is not applied")
        return
    cutoff = retention_cutoff(now, months)
    deleted = store.delete_before(cutoff)
    if deleted:
        log.info("retention: deleted %d events before %s", deleted, cutoff.date())


def retention_cutoff(now: datetime, months: int) -> datetime:
    """First instant kept: the start of the month `months` before `now`'s month (UTC).

    Keeping the current month and the `months` before it means at least `months` full months
    are always there, and whole months go at once (as ClickHouse partitions do).
    """
    index = now.astimezone(UTC).year * 12 + now.astimezone(UTC).month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
