"""The event store Protocol: DuckDB embedded, ClickHouse scale-out; same rows, same answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from footfall.events import Event


class EventStore(Protocol):
    """Where enriched events live. One writer inserts; any number of readers query."""

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
