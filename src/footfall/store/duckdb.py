"""The embedded event store: one DuckDB file holding the `events` table and the queue position.

Rows go in through DuckDB's Appender (columnar, about a hundred times faster than executemany)
inside one transaction that also records the queue position, so rows and position always agree.
Timestamps are stored as naive UTC `TIMESTAMP`s (the database's TimeZone is set to UTC, so
aware datetimes convert correctly and reader cursors see UTC); `event_id` is the 16-byte BLOB
the collector drew. Reads run on their own cursors and never block the writer.

If DuckDB cannot replay its write-ahead log on open (a damaged WAL), the WAL is moved aside and
the file opens at its last checkpoint; the queue position recorded there is older, and replaying
the queue from it (with dedupe) restores the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from footfall.events import EVENT_COLUMNS, Event
from footfall.store import visit_days, visits
from footfall.store.base import Snapshot

log = logging.getLogger(__name__)

# Column types of the events table, in Event field order (DESIGN.md section 2).
_COLUMN_TYPES: dict[str, str] = {
    "event_id": "BLOB",
    "ts": "TIMESTAMP",
    "site_id": "UINTEGER",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "visitor_id": "UBIGINT",
    "session_id": "UBIGINT",
    "user_id": "VARCHAR",
    "hostname": "VARCHAR",
    "pathname": "VARCHAR",
    "referrer": "VARCHAR",
    "referrer_source": "VARCHAR",
    "channel": "VARCHAR",
    "utm_source": "VARCHAR",
    "utm_medium": "VARCHAR",
    "utm_campaign": "VARCHAR",
    "utm_content": "VARCHAR",
    "utm_term": "VARCHAR",
    "country": "VARCHAR",
    "region": "VARCHAR",
    "city": "VARCHAR",
    "browser": "VARCHAR",
    "browser_version": "VARCHAR",
    "os": "VARCHAR",
    "os_version": "VARCHAR",
    "device": "VARCHAR",
    "screen_width": "INTEGER",
    "props_keys": "VARCHAR[]",
    "props_values": "VARCHAR[]",
    "revenue_amount": "DECIMAL(18,4)",
    "revenue_currency": "VARCHAR",
    "link_id": "UBIGINT",
    "campaign_id": "UBIGINT",
    "recipient": "VARCHAR",
    "platform": "VARCHAR",
    "is_bot": "BOOLEAN",
    "interactive": "BOOLEAN",
    "scroll_depth": "INTEGER",
    "engagement_ms": "BIGINT",
    "batch_id": "UBIGINT",
}
if tuple(_COLUMN_TYPES) != EVENT_COLUMNS:  # a new Event field needs its column here
    raise RuntimeError("store/duckdb.py _COLUMN_TYPES is out of step with footfall.events.Event")

_STAGING = "events_staging"

_DEDUPE_INSERT = f"""
INSERT INTO events
SELECT * FROM {_STAGING} AS staged
WHERE NOT EXISTS (
    SELECT 1 FROM events AS stored
    WHERE stored.ts BETWEEN ? AND ? AND stored.event_id = staged.event_id
)
"""

# Python-side conversions the Appender refuses row by row (a value out of a column's range).
_ROW_ERRORS = (duckdb.DataError, duckdb.InvalidInputException, TypeError, ValueError)


class StoreLockedError(RuntimeError):
    """The DuckDB file is open in another process."""


class DuckDBEventStore:
    """The `EventStore` over one DuckDB file; `insert` and `checkpoint` come from one writer."""

    dialect_name = "duckdb"  # the query dialect that renders SQL for this store
    has_visit_rollup = True  # keeps the `visits` rollup (footfall.store.visits)

    def __init__(self, path: Path, *, visit_close_after: timedelta = timedelta(minutes=35)) -> None:
        """Open (creating when new) the store at `path`. A visit is rolled up once its last
        event is `visit_close_after` old: the session timeout plus a margin for slow arrivals."""
        self.path = Path(path)
        self.visit_close_after = visit_close_after
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._con = _connect(self.path)
        try:
            # Without this the Appender would shift aware datetimes to the host's time zone.
            self._con.execute("SET GLOBAL TimeZone = 'UTC'")
            self._columns = _create_schema(self._con)
            # The sites the per-day sums hold, and those to sum at the next checkpoint.
            self._summarised = visit_days.zones(self._con)
            self._to_summarise: dict[int, str] = {}
            # Values snapshots derived from the open visits, by key: (generation, value).
            self._remembered: dict[Hashable, tuple[int, Any]] = {}
            self._remembered_lock = threading.Lock()
        except BaseException:
            self._con.close()
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction on its own cursor: every statement in it sees one state of the
        store, and values remembered from it hold until a write changes the open visits."""
        with self._cursor_lock:
            cursor = self._con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            yield _Snapshot(self, cursor, visits.generation(cursor))
        finally:
            try:
                cursor.execute("ROLLBACK")
            finally:
                cursor.close()

    def _remember(self, key: Hashable, generation: int, compute: Callable[[], Any]) -> Any:
        with self._remembered_lock:
            found = self._remembered.get(key)
        if found is not None and found[0] == generation:
            return found[1]
        value = compute()
        with self._remembered_lock:
            kept = self._remembered.get(key)
            if kept is None or kept[0] <= generation:
                self._remembered[key] = (generation, value)
        return value

    def summarised(self, site_id: int, zone: str) -> bool:
        """Whether the per-day sums (footfall.store.visit_days) hold the site's days in
        `zone`; when not, the next roll-up builds them."""
        if self._summarised.get(site_id) == zone:
            return True
        self._to_summarise[site_id] = zone
        return False

    def insert(
        self,
        events: Sequence[Event],
        *,
        batch_id: int = 0,
        position: str | None = None,
        dedupe: bool = False,
    ) -> int:
        """Append `events` and record `position` in one transaction; returns rows inserted.

        A row DuckDB cannot take (a value outside its column's range) is logged and skipped
        rather than failing the batch forever. `batch_id` travels on each Event row; with
        `dedupe`, rows whose event_id is stored already are left out.
        """
        columns = self._columns

        def append(con: duckdb.DuckDBPyConnection, table: str) -> int:
            return _append(con, table, events, columns)

        earliest = min((event.ts for event in events if not event.is_bot), default=None)
        return self._write_batch(append, earliest=earliest, position=position, dedupe=dedupe)

    def insert_file(self, path: Path, *, position: str | None = None, dedupe: bool = False) -> int:
        """Load a batch file written by `BatchFileWriter`, recording `position`, atomically.

        DuckDB reads and inserts the Parquet file natively, without holding Python's GIL: this
        is how the server stores batches enriched in its enrichment process.
        """

        def load(con: duckdb.DuckDBPyConnection, table: str) -> int:
            sql = f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)"
            return _count(con.execute(sql, [str(path)]))

        found = self._con.execute(
            "SELECT min(ts) FROM read_parquet(?) WHERE NOT is_bot", [str(path)]
        ).fetchone()
        earliest = found[0] if found else None
        return self._write_batch(load, earliest=earliest, position=position, dedupe=dedupe)

    def _write_batch(
        self,
        fill: Callable[[duckdb.DuckDBPyConnection, str], int],
        *,
        earliest: datetime | None,
        position: str | None,
        dedupe: bool,
    ) -> int:
        """`fill(con, table)` puts a batch into `table`; with `position`, in one transaction.

        With `dedupe` the batch goes to the staging table first and only event ids not stored
        yet (within the batch's time span) move on to `events`. `earliest` is the batch's first
        human event time: one before the visit rollup's watermark lowers it.
        """
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                if dedupe:
                    fill(con, _STAGING)
                    # Bounds as constants let DuckDB skip row groups outside the batch's times.
                    bounds = con.execute(f"SELECT min(ts), max(ts) FROM {_STAGING}").fetchone()
                    inserted = _count(con.execute(_DEDUPE_INSERT, list(bounds or (None, None))))
                    con.execute(f"DELETE FROM {_STAGING}")
                else:
                    inserted = fill(con, "events")
                visits.after_insert(con, earliest)
                if position is not None:
                    con.execute("UPDATE queue_position SET position = ?", [position])
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return inserted

    def delete_before(self, cutoff: datetime) -> int:
        """Delete events older than `cutoff` (retention); returns the rows deleted."""
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                deleted = _count(
                    con.execute("DELETE FROM events WHERE ts < ?", [_naive_utc(cutoff)])
                )
                visits.after_retention(con, cutoff)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            return deleted

    def position(self) -> str | None:
        """The queue position committed with the last batch."""
        rows = self.execute("SELECT position FROM queue_position")
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def inserted_since(self, earliest: datetime) -> None:
        """Tell the visit rollup that rows from `earliest` on went into `events` by another
        path than `insert` (the demo generator's bulk SQL): their visits count as open until
        the next roll-up."""
        with self._write_lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                visits.after_insert(self._con, earliest)
                self._con.execute("COMMIT")
            except BaseException:
                _rollback(self._con)
                raise

    def roll_up(self, now: datetime | None = None) -> int:
        """Roll up the visits closed by `now` (default: the clock) into `visits`; returns
        how many were added."""
        until = (now or datetime.now(UTC)) - self.visit_close_after
        added = 0
        # A long way to go (a first roll-up of a large file, an import of old logs) goes 30 days
        # at a time: each step's memory stays bounded and its rows lie together in the file.
        for step in visits.steps(self.execute, until):
            with self._write_lock:
                con = self._con
                con.execute("BEGIN TRANSACTION")
                try:
                    added += visits.advance(con, step)
                    con.execute("COMMIT")
                except BaseException:
                    _rollback(con)
                    raise
        with self._write_lock:
            self._summarise()
        return added

    def _summarise(self) -> None:
        """Build the per-day sums of the sites queried in a zone they are not summed in, and
        compact the sums' logs (under the write lock)."""
        con = self._con
        for site_id, zone in list(self._to_summarise.items()):
            con.execute("BEGIN TRANSACTION")
            try:
                visit_days.build(con, site_id, zone)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self._summarised[site_id] = zone
            if self._to_summarise.get(site_id) == zone:
                del self._to_summarise[site_id]
        con.execute("BEGIN TRANSACTION")
        try:
            visit_days.compact(con)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise

    def checkpoint(self) -> str | None:
        """Roll up closed visits, then run CHECKPOINT (the WAL folds into the main file);
        returns the queue position it covers."""
        self.roll_up()
        with self._write_lock:
            row = self._con.execute("SELECT position FROM queue_position").fetchone()
            self._con.execute("CHECKPOINT")
        return str(row[0]) if row and row[0] is not None else None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run `sql` with `?`/`$n` parameters on a fresh cursor; safe from any thread."""
        with self._cursor_lock:
            cursor = self._con.cursor()
        try:
            return cursor.execute(sql, list(params) if params is not None else None).fetchall()
        finally:
            cursor.close()

    def recent_sessions(self, since: datetime) -> list[tuple[int, int, int, int]]:
        """(site_id, visitor_id, session_id, last ts in epoch ms) of sessions active since then."""
        rows = self.execute(
            "SELECT site_id, visitor_id, session_id, epoch_ms(max(ts)) FROM events "
            "WHERE ts >= ? GROUP BY site_id, visitor_id, session_id",
            [_naive_utc(since)],
        )
        return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows]

    def close(self) -> None:
        """Close the file (DuckDB checkpoints on a clean close)."""
        with self._write_lock:
            self._con.close()


class _Snapshot:
    """One read transaction of a DuckDBEventStore (its `snapshot`)."""

    def __init__(
        self, store: DuckDBEventStore, cursor: duckdb.DuckDBPyConnection, generation: int
    ) -> None:
        self._store, self._cursor, self.generation = store, cursor, generation

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._cursor.execute(sql, list(params) if params is not None else None).fetchall()

    def remember(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return self._store._remember(key, self.generation, compute)


class BatchFileWriter:
    """Writes enriched events to a Parquet file with exactly the `events` table's column types.

    Used in the enrichment process: rows are appended to an in-memory table there, so the server
    process only has DuckDB load the finished file (`DuckDBEventStore.insert_file`).
    """

    def __init__(self) -> None:
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMN_TYPES.items())
        self._con.execute(f"CREATE TABLE batch ({columns})")

    def write(self, events: Sequence[Event], path: Path) -> int:
        """Write `events` to `path` (replacing it); returns the rows written."""
        written = _append(self._con, "batch", events, None)
        target = str(path).replace("'", "''")
        self._con.execute(f"COPY batch TO '{target}' (FORMAT parquet, COMPRESSION uncompressed)")
        self._con.execute("DELETE FROM batch")
        return written

    def close(self) -> None:
        """Release the in-memory database."""
        self._con.close()


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"the event store {path} is in use by another Footfall process; stop it first "
                f"(an embedded DuckDB file has one writing process). DuckDB said: {exc}"
            ) from exc
        raise
    except duckdb.Error as exc:
        if "replaying WAL" not in str(exc):
            raise
        wal = path.with_name(path.name + ".wal")
        aside = wal.with_name(f"{wal.name}.unreplayable-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        wal.rename(aside)
        log.warning(
            "DuckDB could not replay %s (%s); moved it to %s and opened %s at its last "
            "checkpoint: the queue replay restores the newer events",
            wal,
            str(exc).splitlines()[0],
            aside,
            path,
        )
        return duckdb.connect(str(path))


def _create_schema(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """Create or complete the schema; returns the Appender column list if `events` has its
    columns in an order other than Event's (None: the faster positional append works)."""
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in _COLUMN_TYPES.items())
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS events (\n    {columns}\n)")
        existing = _table_columns(con)
        for name, kind in _COLUMN_TYPES.items():
            if name not in existing:  # a file from a release before this column existed
                con.execute(f"ALTER TABLE events ADD COLUMN {name} {kind}")
        in_order = tuple(_table_columns(con)) == EVENT_COLUMNS
        visits.create(con)
        con.execute("CREATE TABLE IF NOT EXISTS queue_position (position VARCHAR)")
        count = con.execute("SELECT count(*) FROM queue_position").fetchone()
        if count is not None and count[0] == 0:
            con.execute("INSERT INTO queue_position VALUES (NULL)")
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} AS FROM events LIMIT 0")
    return None if in_order else list(EVENT_COLUMNS)


def _table_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = 'events' ORDER BY column_index"
    ).fetchall()
    return [str(row[0]) for row in rows]


def _append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    events: Sequence[Event],
    columns: list[str] | None,
) -> int:
    appended = 0
    astuple = msgspec.structs.astuple
    with con.appender(table, columns=columns) as appender:
        for event in events:
            try:
                appender.append_row(*astuple(event))
            except _ROW_ERRORS as exc:
                log.error("event %s not stored: %s (%r)", event.event_id.hex(), exc, event)
            else:
                appended += 1
    return appended


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        log.debug("rollback after a failed write found no open transaction")
