"""The scale-out event store: the `events` table in ClickHouse, over the native protocol.

Rows go in as one columnar `INSERT ... VALUES` per batch (clickhouse-driver serialises column
lists straight into native blocks). ClickHouse 18.16, the oldest release supported, has no
DateTime64, so `ts` is a `DateTime('UTC')` (whole seconds, what every time function takes) and
`ts_ms` the milliseconds within that second; the ALIAS column `ts_epoch_ms` combines them for
exact durations and ordering. Booleans are UInt8; `event_id` is a FixedString(16).

ClickHouse has no transactions, so the queue position cannot commit together with a batch: it
is recorded right after the batch's insert returns, in the `queue_position` table. A crash in
between leaves an older position, and the writer replays from it with `dedupe`, which leaves out
every row whose event_id the table holds already, so nothing is stored twice (see
docs/clickhouse.md). The scale-out queue (Redis Streams) acknowledges batches itself and needs no
position.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from clickhouse_driver import Client  # type: ignore[import-untyped]  # ships no type hints

from footfall.events import EVENT_COLUMNS, Event
from footfall.store.clickhouse_migrations import Layout, MigrationReport, migrate
from footfall.store.clickhouse_schema import COLUMN_TYPES, INSERT_COLUMNS

log = logging.getLogger(__name__)

_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_DEFAULT_PORT = 9000
_POOL_SIZE = 4

# Inclusive ranges of the integer columns: a row outside them is skipped, never sent (one bad
# value would fail the whole native block).
_INT_RANGES: dict[str, tuple[int, int]] = {
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}
_CHECKED_INTS: tuple[tuple[int, int, int], ...] = tuple(
    (EVENT_COLUMNS.index(name), *_INT_RANGES[kind])
    for name, kind in COLUMN_TYPES.items()
    if kind in _INT_RANGES
)
_REVENUE_LIMIT = Decimal(10) ** 14  # Decimal(18,4) holds 14 integer digits
_TS = EVENT_COLUMNS.index("ts")
_EVENT_ID = EVENT_COLUMNS.index("event_id")
_REVENUE = EVENT_COLUMNS.index("revenue_amount")
_SITE_ID = EVENT_COLUMNS.index("site_id")
_TS_LOW = datetime(1970, 1, 1, tzinfo=UTC)  # ClickHouse's DateTime is UInt32 epoch seconds
_TS_HIGH = datetime(2106, 2, 7, 6, 28, 15, 999000, tzinfo=UTC)

_RECORD_POSITION = "INSERT INTO queue_position (position, recorded_ns) VALUES"
# argMax: the newest row wins even before ReplacingMergeTree has merged the older ones away.
_LAST_POSITION = "SELECT argMax(position, recorded_ns), count() FROM queue_position"

# GLOBAL IN on a cluster: the shards read the batch's ids from the query, not a local table.
_STORED_IDS = """
SELECT hex(event_id) FROM events
WHERE site_id IN %(sites)s
  AND ts >= toDateTime(%(low)s, 'UTC') AND ts <= toDateTime(%(high)s, 'UTC')
  AND event_id {in_} incoming
"""
# An insert through a Distributed table returns once every shard holds its rows, so a replayed
# batch's dedupe lookup sees them all (asynchronous forwarding could still be holding some).
_CLUSTER_INSERT_SETTINGS = {"insert_distributed_sync": 1}


class ClickHouseEventStore:
    """The `EventStore` over one ClickHouse database (`clickhouse://host:port/db`).

    Opening it creates the database when missing and runs the schema migrations not yet
    applied (store.clickhouse_migrations); `migrations` reports what that found and did. With
    `cluster`, `events` is a Distributed table over each shard's `events_local`.
    """

    dialect_name = "clickhouse"
    has_visit_rollup = False  # visits are grouped from events at query time

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = _POOL_SIZE,
        cluster: str = "",
        replicated: bool = True,
    ) -> None:
        self.url = url
        self.database = _database_of(url)
        self.layout = Layout(self.database, cluster, replicated)
        _bootstrap(url, self.layout)
        self._url = with_default_timeouts(url)
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._write_lock = threading.Lock()
        self._stored_ids_sql = _STORED_IDS.format(
            in_="GLOBAL IN" if self.layout.clustered else "IN"
        )
        self._insert_settings = _CLUSTER_INSERT_SETTINGS if self.layout.clustered else None
        with self._client() as client:
            self.migrations: MigrationReport = migrate(client, self.layout)

    def insert(
        self,
        events: Sequence[Event],
        *,
        batch_id: int = 0,
        position: str | None = None,
        dedupe: bool = False,
    ) -> int:
        """Insert `events` as one columnar block; returns the number of rows inserted.

        Rows with a value outside their column's range are logged and skipped. `batch_id`
        travels on each Event row; with `dedupe`, rows whose event_id is stored already are
        left out. `position` is recorded once the rows are in (see the module docstring).
        """
        rows = list(map(msgspec.structs.astuple, events))
        columns = list(zip(*rows, strict=True))
        if rows and not _all_fit(columns):
            rows = [row for row in rows if _storable(row)]
            columns = list(zip(*rows, strict=True))
        with self._write_lock, self._client() as client:
            if dedupe and rows:
                present = _stored_ids(client, self._stored_ids_sql, columns)
                if present:
                    rows = [row for row in rows if row[_EVENT_ID] not in present]
                    columns = list(zip(*rows, strict=True))
            if rows:
                client.execute(
                    f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES",
                    _insert_data(columns),
                    columnar=True,
                    settings=self._insert_settings,
                )
            if position is not None:
                client.execute(_RECORD_POSITION, [(position, time.time_ns())])
        return len(rows)

    def position(self) -> str | None:
        """The queue position recorded after the last stored batch (None: nothing yet)."""
        rows = self.execute(_LAST_POSITION)
        return str(rows[0][0]) if rows and rows[0][1] else None

    def checkpoint(self) -> str | None:
        """The recorded position: an acknowledged ClickHouse insert is already in its parts."""
        return self.position()

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run `sql` with `%(name)s` parameters from the dict `params`; safe from any thread.

        Values of time-zoned DateTime results (`ts`, `toStartOfHour(ts, 'Europe/Paris')`...)
        come back as naive datetimes in that zone, as DuckDB returns its TIMESTAMPs, so both
        stores answer the same query with equal rows. Aware datetime parameters are sent as
        UTC wall time (the driver would otherwise write them in the server's time zone, which
        `toDateTime(%(p)s, 'UTC')` and comparisons with the UTC `ts` column would misread).
        """
        if isinstance(params, dict):
            params = {key: _naive_utc(value) for key, value in params.items()}
        with self._client() as client:
            result, types = client.execute(sql, params, with_column_types=True)
        zoned = [index for index, (_, kind) in enumerate(types) if _is_zoned_datetime(kind)]
        if not zoned:
            return [tuple(row) for row in result]
        return [_naive_at(row, zoned) for row in result]

    def recent_sessions(self, since: datetime) -> list[tuple[int, int, int, int]]:
        """(site_id, visitor_id, session_id, last ts in epoch ms) of sessions active since then."""
        rows = self.execute(
            "SELECT site_id, visitor_id, session_id, max(ts_epoch_ms) FROM events "
            "WHERE ts >= toDateTime(%(since)s, 'UTC') "
            "GROUP BY site_id, visitor_id, session_id",
            {"since": int(_utc(since).timestamp())},
        )
        return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows]

    def delete_before(self, cutoff: datetime) -> int:
        """Retention: drop the monthly partitions wholly before `cutoff`; returns rows dropped.

        Cutoffs fall on month starts (store.base.retention_cutoff), so whole partitions are
        exactly the events to forget, and dropping them is instant (no rewrite of parts). On a
        cluster the partitions of `events_local` go, on every server for a replicated layout
        (`ON CLUSTER`), else on the connected server only; the rows counted are this server's.
        """
        moment = _utc(cutoff)
        first_kept = moment.year * 100 + moment.month
        layout = self.layout
        with self._write_lock, self._client() as client:
            parts = client.execute(
                "SELECT partition, sum(rows) FROM system.parts "
                "WHERE database = %(database)s AND table = %(table)s AND active "
                "GROUP BY partition",
                {"database": self.database, "table": layout.shard_table},
            )
            dropped = 0
            for partition, rows in parts:
                if int(partition) < first_kept:
                    client.execute(
                        f"ALTER TABLE {layout.qualified(layout.shard_table)}{layout.on_cluster} "
                        f"DROP PARTITION {int(partition)}"
                    )
                    dropped += int(rows)
        return dropped

    def close(self) -> None:
        """Disconnect every pooled connection."""
        while True:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                return
            client.disconnect()

    @contextmanager
    def _client(self) -> Iterator[Client]:
        """Borrow a connection (clickhouse-driver clients are not thread-safe)."""
        with self._slots:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                client = Client.from_url(self._url)
            try:
                yield client
            except BaseException:
                # A failed query may leave the connection mid-stream: never reuse it.
                client.disconnect()
                raise
            self._idle.put(client)


# clickhouse-driver waits 300 s for an answer by default: a hanging server (a frozen process,
# a network dropping packets) would hold a worker's batch past its claim time. The events URL
# may set its own values.
DEFAULT_TIMEOUTS = {
    "connect_timeout": "5",
    "send_receive_timeout": "60",
    "sync_request_timeout": "5",
}


def with_default_timeouts(url: str) -> str:
    """`url` with the driver timeouts it does not set itself added (DEFAULT_TIMEOUTS)."""
    parts = urlsplit(url)
    given = dict(parse_qsl(parts.query, keep_blank_values=True))
    missing = {key: value for key, value in DEFAULT_TIMEOUTS.items() if key not in given}
    if not missing:
        return url
    return urlunsplit(parts._replace(query=urlencode({**given, **missing})))


def _database_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "clickhouse":
        raise ValueError(f"{url!r}: expected clickhouse://host:port/database")
    if not parts.hostname:
        raise ValueError(f"{url!r}: the ClickHouse URL names no host")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"{url!r}: bad port ({exc})") from exc
    database = parts.path.lstrip("/")
    if not _DATABASE_NAME.fullmatch(database):
        raise ValueError(
            f"{url!r}: the path must name the database (letters, digits and _), "
            "as in clickhouse://127.0.0.1:9000/footfall"
        )
    return database


def _bootstrap(url: str, layout: Layout) -> None:
    """Create the database when missing, over a connection to the always-present `default`."""
    parts = urlsplit(url)
    client = Client.from_url(urlunsplit(parts._replace(path="/default")))
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {layout.database}{layout.on_cluster}")
    finally:
        client.disconnect()


def _storable(row: tuple[Any, ...]) -> bool:
    problem = _problem(row)
    if problem is None:
        return True
    log.error("event %s not stored: %s (%r)", row[_EVENT_ID].hex(), problem, row)
    return False


def _problem(row: tuple[Any, ...]) -> str | None:
    try:
        for index, low, high in _CHECKED_INTS:
            value = row[index]
            if not low <= value <= high:
                return f"{EVENT_COLUMNS[index]}={value} is outside [{low}, {high}]"
        if len(row[_EVENT_ID]) != 16:
            return "event_id is not 16 bytes"
        revenue = row[_REVENUE]
        if revenue is not None and not abs(revenue) < _REVENUE_LIMIT:
            return f"revenue_amount={revenue} does not fit Decimal(18,4)"
        if not _TS_LOW <= row[_TS] <= _TS_HIGH:
            return f"ts={row[_TS]} is outside ClickHouse's DateTime range"
    except TypeError as exc:  # None or another type where the column wants a number
        return str(exc)
    return None


def _all_fit(columns: list[tuple[Any, ...]]) -> bool:
    """Whether every row fits its columns, judged a column at a time (C-speed min/max)."""
    try:
        for index, low, high in _CHECKED_INTS:
            if min(columns[index]) < low or max(columns[index]) > high:
                return False
        revenues = [abs(value) for value in columns[_REVENUE] if value is not None]
        return (
            set(map(len, columns[_EVENT_ID])) == {16}
            and (not revenues or max(revenues) < _REVENUE_LIMIT)
            and min(columns[_TS]) >= _TS_LOW
            and max(columns[_TS]) <= _TS_HIGH
        )
    except TypeError:
        return False


def _insert_data(columns: list[tuple[Any, ...]]) -> list[Sequence[Any]]:
    """Column-oriented data in INSERT_COLUMNS order: Event's fields, ts split into s + ms."""
    data: list[Sequence[Any]] = list(columns)
    epoch_ms = [round(moment.timestamp() * 1000) for moment in columns[_TS]]
    data[_TS] = [value // 1000 for value in epoch_ms]
    data.append([value % 1000 for value in epoch_ms])
    return data


def _stored_ids(client: Client, sql: str, columns: list[tuple[Any, ...]]) -> set[bytes]:
    """Which of the batch's event_ids are stored (looked up within its sites and times)."""
    stored = client.execute(
        sql,
        {
            "sites": tuple(set(columns[_SITE_ID])),
            "low": int(min(columns[_TS]).timestamp()),
            "high": int(max(columns[_TS]).timestamp()) + 1,
        },
        external_tables=[
            {
                "name": "incoming",
                "structure": [("event_id", "FixedString(16)")],
                "data": [{"event_id": value} for value in columns[_EVENT_ID]],
            }
        ],
        settings={"strings_as_bytes": True},
    )
    return {bytes.fromhex(value.decode()) for (value,) in stored}


def _is_zoned_datetime(kind: str) -> bool:
    return kind.startswith(("DateTime(", "Nullable(DateTime("))


def _naive_at(row: tuple[Any, ...], indexes: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for index in indexes:
        if values[index] is not None:
            values[index] = values[index].replace(tzinfo=None)
    return tuple(values)


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
