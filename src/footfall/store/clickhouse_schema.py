"""The ClickHouse events table's columns, partitioning and sort key (DDL: clickhouse_migrations).

Types are those ClickHouse 18.16 already has (no DateTime64, LowCardinality, Bool or Map) and
current releases still accept. Why the sort key is (site_id, toDate(ts), visitor_id, ts):
every query names one site and a time range, so the first two columns let the primary index
skip all other sites and days; within a day a visitor's events (and so each of its visits) lie
together in time order, which keeps the session subqueries reading adjacent rows and makes the
repetitive per-visitor columns (browser, country, source...) compress to almost nothing.
"""

from __future__ import annotations

from footfall.events import EVENT_COLUMNS

# Column types in Event field order (DESIGN.md section 2); `ts_ms` follows as the last column.
COLUMN_TYPES: dict[str, str] = {
    "event_id": "FixedString(16)",
    "ts": "DateTime('UTC')",
    "site_id": "UInt32",
    "name": "String",
    "kind": "String",
    "visitor_id": "UInt64",
    "session_id": "UInt64",
    "user_id": "Nullable(String)",
    "hostname": "String",
    "pathname": "String",
    "referrer": "String",
    "referrer_source": "String",
    "channel": "String",
    "utm_source": "String",
    "utm_medium": "String",
    "utm_campaign": "String",
    "utm_content": "String",
    "utm_term": "String",
    "country": "String",
    "region": "String",
    "city": "String",
    "browser": "String",
    "browser_version": "String",
    "os": "String",
    "os_version": "String",
    "device": "String",
    "screen_width": "Int32",
    "props_keys": "Array(String)",
    "props_values": "Array(String)",
    "revenue_amount": "Nullable(Decimal(18, 4))",
    "revenue_currency": "String",
    "link_id": "UInt64",
    "campaign_id": "UInt64",
    "recipient": "String",
    "platform": "String",
    "is_bot": "UInt8",
    "interactive": "UInt8",
    "scroll_depth": "Int32",
    "engagement_ms": "Int64",
    "batch_id": "UInt64",
}
if tuple(COLUMN_TYPES) != EVENT_COLUMNS:  # a new Event field needs its column here, and a migration
    raise RuntimeError("store/clickhouse_schema.py COLUMN_TYPES is out of step with Event")

# Milliseconds within `ts`'s second, and the exact time they make together.
TS_MS_COLUMN = ("ts_ms", "UInt16")
TS_EPOCH_MS_COLUMN = ("ts_epoch_ms", "UInt64 ALIAS toUInt64(ts) * 1000 + ts_ms")

INSERT_COLUMNS: tuple[str, ...] = (*EVENT_COLUMNS, TS_MS_COLUMN[0])

PARTITION_BY = "toYYYYMM(ts)"
ORDER_BY = "(site_id, toDate(ts), visitor_id, ts)"


def all_columns() -> list[tuple[str, str]]:
    """Every column of the events table, in order: Event's fields, then `ts_ms` and the ALIAS."""
    return [*COLUMN_TYPES.items(), TS_MS_COLUMN, TS_EPOCH_MS_COLUMN]


# One row per stored batch; merges keep the newest (one writer per database owns the spool).
QUEUE_POSITION_COLUMNS = "slot UInt8 DEFAULT 0, position String, recorded_ns UInt64"
