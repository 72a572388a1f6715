"""Runs the demo generator on a DuckDB connection: plan the chunks, then draw and insert each.

Nothing is built per event in Python. A plan first counts the rows of each visit (visit order,
cumulative) to cut the run into chunks and end at exactly the requested number. For each chunk,
one statement draws its visits into a temporary table and a second expands them into rows: into
the store's `events` table directly, or, for other stores, into `Event` structs for `insert()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import duckdb

from footfall.events import EVENT_COLUMNS, Event
from footfall.store.base import EventStore
from footfall.store.demo import sql
from footfall.store.demo.spec import DemoSpec, DemoSummary
from footfall.store.demo.traffic import VISITOR_POOL_FACTOR, parameters

ProgressCallback = Callable[[int], None]

# Visits whose rows the plan counts per statement.
PLAN_BLOCK_VISITS = 1_000_000
# Rows written between checkpoints of the DuckDB file.
CHECKPOINT_ROWS = 2_000_000


@dataclass(frozen=True)
class _Chunk:
    first_visit: int
    end_visit: int  # exclusive
    rows: int
    cut_visit: int  # the run's last visit, of which only the first rows are kept; -1: none


@dataclass
class _Generator:
    """Generation state on one DuckDB connection: macros, lookup lists and the chunk plan."""

    con: duckdb.DuckDBPyConnection
    spec: DemoSpec
    params: dict[str, Any] = field(default_factory=dict)
    chunks: list[_Chunk] = field(default_factory=list)
    visits: int = 0

    def prepare(self) -> None:
        for statement in sql.MACROS:
            self.con.execute(statement)
        self.params = parameters(self.spec)
        self.chunks = self._plan() if self.spec.events else []
        self.visits = self.chunks[-1].end_visit if self.chunks else 0
        self.params["visits"] = max(self.visits, 1)
        self.params["visitor_pool"] = max(1, round(self.visits * VISITOR_POOL_FACTOR))
        self._execute(sql.TIME_SQL)

    def _plan(self) -> list[_Chunk]:
        # Blocks of visits keep the running sum's memory bounded however large the run.
        groups: dict[int, tuple[int, int, int, int]] = {}
        block_start = rows_before = 0
        while rows_before < self.spec.events:
            block_end = block_start + PLAN_BLOCK_VISITS
            found = self._fetch(
                sql.PLAN_SQL,
                block_start=block_start,
                block_end=block_end,
                before_block=rows_before,
            )
            for chunk, first, last, before, events in found:
                # A chunk cut by a block boundary continues in the next block.
                if chunk in groups:
                    first, _, before, earlier = groups[chunk]
                    events += earlier
                groups[chunk] = (first, last, before, events)
                rows_before = max(rows_before, before + events)
            block_start = block_end
        chunks = []
        for first, last, before, events in groups.values():
            rows = min(events, self.spec.events - before)
            cut = last if before + events > self.spec.events else -1
            chunks.append(_Chunk(first, last + 1, rows, cut))
        return chunks

    def prepare_chunk(self, chunk: _Chunk) -> dict[str, Any]:
        """Draw the chunk's visits; returns the parameters of its rows query."""
        self._execute(sql.VISITS_SQL, first_visit=chunk.first_visit, end_visit=chunk.end_visit)
        return sql.bound(
            sql.rows_sql(), {**self.params, "cut_visit": chunk.cut_visit, "rows": chunk.rows}
        )

    def count_visitors(self) -> int:
        return int(self._fetch(sql.VISITORS_SQL)[0][0]) if self.visits else 0

    def drop_temporaries(self) -> None:
        for kind_and_name in sql.TEMP_OBJECTS:
            self.con.execute(f"DROP {kind_and_name.replace(' ', ' IF EXISTS ', 1)}")

    def _execute(self, statement: str, **extra: Any) -> None:
        self.con.execute(statement, sql.bound(statement, {**self.params, **extra}))

    def _fetch(self, statement: str, **extra: Any) -> list[tuple[Any, ...]]:
        return self.con.execute(
            statement, sql.bound(statement, {**self.params, **extra})
        ).fetchall()


def generate_into_duckdb(
    con: duckdb.DuckDBPyConnection, spec: DemoSpec, progress: ProgressCallback | None = None
) -> DemoSummary:
    """Insert the demo traffic into the `events` table on `con`, one transaction per chunk.

    `progress` is called with the number of rows after each committed chunk.
    """
    started = time.perf_counter()
    generator = _Generator(con, spec)
    try:
        generator.prepare()
        insert = "INSERT INTO events BY NAME " + sql.rows_sql()
        unfolded = 0
        for chunk in generator.chunks:
            con.begin()
            try:
                con.execute(insert, generator.prepare_chunk(chunk))
                con.commit()
            except BaseException:
                con.rollback()
                raise
            unfolded += chunk.rows
            if unfolded >= CHECKPOINT_ROWS or chunk is generator.chunks[-1]:
                # Folding the new rows into the file now and then bounds the memory a final
                # checkpoint would need; the last one is part of the load, so it is timed.
                con.execute("CHECKPOINT")
                unfolded = 0
            if progress is not None:
                progress(chunk.rows)
        visitors = generator.count_visitors()
    finally:
        generator.drop_temporaries()
    return DemoSummary(spec.events, generator.visits, visitors, time.perf_counter() - started)


def generate_into_store(
    store: EventStore, spec: DemoSpec, progress: ProgressCallback | None = None
) -> DemoSummary:
    """Insert the demo traffic through `store.insert()`, for stores other than DuckDB.

    Each chunk is generated in an in-memory DuckDB and handed over as `Event` structs.
    """
    started = time.perf_counter()
    with duckdb.connect(":memory:") as con:
        generator = _Generator(con, spec)
        generator.prepare()
        for chunk in generator.chunks:
            events = list(_events(con, sql.rows_sql(), generator.prepare_chunk(chunk)))
            store.insert(events)
            if progress is not None:
                progress(len(events))
        visitors = generator.count_visitors()
    return DemoSummary(spec.events, generator.visits, visitors, time.perf_counter() - started)


def _events(
    con: duckdb.DuckDBPyConnection, statement: str, params: dict[str, Any]
) -> Iterator[Event]:
    for row in con.execute(statement, params).fetchall():
        values = dict(zip(EVENT_COLUMNS, row, strict=True))
        values["ts"] = values["ts"].replace(tzinfo=UTC)
        yield Event(**values)
