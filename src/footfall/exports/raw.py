"""Raw events of a site and date range as one Parquet file, from either event store.

The DuckDB store writes the file itself (COPY ... TO); rows from ClickHouse are copied into an
in-memory DuckDB table first, whose column types mirror the ClickHouse ones.
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from footfall.meta.sites import SiteInfo
from footfall.query.dates import days
from footfall.store.base import EventStore

_CLICKHOUSE_TYPES = {
    "String": "VARCHAR",
    "FixedString": "BLOB",
    "UInt8": "UTINYINT",
    "UInt16": "USMALLINT",
    "UInt32": "UINTEGER",
    "UInt64": "UBIGINT",
    "Int8": "TINYINT",
    "Int16": "SMALLINT",
    "Int32": "INTEGER",
    "Int64": "BIGINT",
    "Float32": "FLOAT",
    "Float64": "DOUBLE",
    "Date": "DATE",
    "DateTime": "TIMESTAMP",
}
_WRAPPER = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")
_INSERT_BATCH = 5000


def _bounds(site: SiteInfo, start: date, end: date) -> tuple[str, str]:
    # Dates are whole days in the site's zone; the store keeps naive UTC timestamps.
    period = days(start, end, site.timezone)
    fmt = "%Y-%m-%d %H:%M:%S"
    return period.start_at.strftime(fmt), period.end_at.strftime(fmt)


def _quoted_path(path: Path) -> str:
    # COPY takes no parameter for its target; ours is a temp path, quoted all the same.
    return "'" + str(path).replace("'", "''") + "'"


def duckdb_type(clickhouse_type: str) -> str:
    """The DuckDB column type holding values of `clickhouse_type`."""
    found = _WRAPPER.match(clickhouse_type)
    if found:
        return duckdb_type(found.group(2))
    if clickhouse_type.startswith("Array("):
        return duckdb_type(clickhouse_type[len("Array(") : -1]) + "[]"
    if clickhouse_type.startswith("Decimal"):
        return "DECIMAL" + clickhouse_type[len("Decimal") :] if "(" in clickhouse_type else "DOUBLE"
    if clickhouse_type.startswith("DateTime"):
        return "TIMESTAMP"
    return _CLICKHOUSE_TYPES.get(clickhouse_type.split("(")[0], "VARCHAR")


def _from_duckdb(store: EventStore, site: SiteInfo, low: str, high: str, target: Path) -> None:
    sql = (
        "COPY (SELECT * FROM events WHERE site_id = ? AND ts >= CAST(? AS TIMESTAMP) "
        "AND ts < CAST(? AS TIMESTAMP) ORDER BY ts) "
        f"TO {_quoted_path(target)} (FORMAT parquet)"
    )
    store.execute(sql, [site.id, low, high])


def _from_clickhouse(store: EventStore, site: SiteInfo, low: str, high: str, target: Path) -> None:
    # ClickHouse takes named parameters in a dict (EventStore's signature speaks of DuckDB's list).
    named: Any = {"site": site.id, "low": low, "high": high}
    # SELECT * leaves out MATERIALIZED and ALIAS columns: so does the copy.
    columns = [
        (str(row[0]), str(row[1]))
        for row in store.execute("DESCRIBE TABLE events")
        if str(row[2]) not in {"MATERIALIZED", "ALIAS"}
    ]
    rows = store.execute(
        "SELECT * FROM events WHERE site_id = %(site)s AND ts >= toDateTime(%(low)s, 'UTC') "
        "AND ts < toDateTime(%(high)s, 'UTC') ORDER BY ts",
        named,
    )
    with duckdb.connect() as con:
        definition = ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in columns)
        con.execute(f"CREATE TABLE events ({definition})")
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO events VALUES ({marks})"
        for begin in range(0, len(rows), _INSERT_BATCH):
            con.executemany(insert, [_naive(row) for row in rows[begin : begin + _INSERT_BATCH]])
        con.execute(f"COPY events TO {_quoted_path(target)} (FORMAT parquet)")


def _naive(row: tuple[Any, ...]) -> list[Any]:
    # ClickHouse answers zoned datetimes; the Parquet column holds naive UTC like the DuckDB one.
    return [
        value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, datetime) and value.tzinfo is not None
        else value
        for value in row
    ]


def events_parquet(store: EventStore, site: SiteInfo, start: date, end: date) -> bytes:
    """Every stored event of `site` from `start` to `end` (inclusive, site-local days)."""
    low, high = _bounds(site, start, end)
    with tempfile.TemporaryDirectory(prefix="footfall-export-") as folder:
        target = Path(folder) / "events.parquet"
        if getattr(store, "dialect_name", "duckdb") == "clickhouse":
            _from_clickhouse(store, site, low, high, target)
        else:
            _from_duckdb(store, site, low, high, target)
        return target.read_bytes()
