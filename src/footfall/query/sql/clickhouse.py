"""The ClickHouse spelling (18.16 and current): `%(pN)s` parameters, -If combinators, no windows.

Distinct counts use `uniqExact` so that both stores give identical numbers; timestamps are
compared as `toDateTime(value, 'UTC')`; joins say `ALL INNER JOIN`, which old releases require.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from footfall.query.sql.dialect import Dialect, Spelling


def _bucket(function: str) -> Spelling:
    # The argument is already the wall clock time (shifted), so buckets are taken in UTC.
    return lambda a: f"{function}({a[0]}, 'UTC')"


def _epoch(ts: str) -> str:
    return f"toUnixTimestamp({ts})"


_FUNCTIONS: dict[str, Spelling] = {
    "count": lambda a: "count()",
    "count_if": lambda a: f"countIf({a[0]})",
    "sum": lambda a: f"sum({a[0]})",
    "sum_if": lambda a: f"sumIf({a[0]}, {a[1]})",
    "uniq": lambda a: f"uniqExact({a[0]})",
    "uniq_if": lambda a: f"uniqExactIf({a[0]}, {a[1]})",
    "uniq2_if": lambda a: f"uniqExactIf({a[0]}, {a[1]}, {a[2]})",
    "any": lambda a: f"any({a[0]})",
    "min": lambda a: f"min({a[0]})",
    "max": lambda a: f"max({a[0]})",
    "arg_min": lambda a: f"argMin({a[0]}, {a[1]})",
    "arg_min_if": lambda a: f"argMinIf({a[0]}, {a[1]}, {a[2]})",
    "arg_min_if_num": lambda a: f"argMinIf({a[0]}, {a[1]}, {a[2]})",
    "arg_max_if": lambda a: f"argMaxIf({a[0]}, {a[1]}, {a[2]})",
    "seconds_between": lambda a: (
        f"(toInt64(toUnixTimestamp({a[1]})) - toInt64(toUnixTimestamp({a[0]})))"
    ),
    "prop": lambda a: f"arrayElement(props_values, indexOf(props_keys, {a[0]}))",
    "contains": lambda a: f"(position({a[0]}, {a[1]}) > 0)",
    "coalesce": lambda a: f"coalesce({a[0]}, {a[1]})",
    "least": lambda a: f"least({a[0]}, {a[1]})",
    "greatest": lambda a: f"greatest({a[0]}, {a[1]})",
    "lower": lambda a: f"lowerUTF8({a[0]})",
    "matches": lambda a: f"match({a[0]}, {a[1]})",
    "to_float": lambda a: f"toFloat64({a[0]})",
    "to_string": lambda a: f"toString({a[0]})",
    "shift": lambda a: f"({a[0]} + {a[1]})",
    "bucket_minute": _bucket("toStartOfMinute"),
    "bucket_hour": _bucket("toStartOfHour"),
    "bucket_day": _bucket("toDate"),
    "bucket_week": _bucket("toMonday"),
    "bucket_month": _bucket("toStartOfMonth"),
    "local_date": lambda a: f"toString(toDate({a[0]}, {a[1]}))",
    "ts_epoch_ms": lambda a: "toInt64(ts_epoch_ms)",
    "burst_key": lambda a: "concat(toString(campaign_id), '|', recipient)",
    "recipient_key": lambda a: "if(recipient != '', recipient, concat('#', toString(visitor_id)))",
}


class ClickHouseDialect(Dialect):
    """ClickHouse through clickhouse-driver's client-side `%(name)s` substitution."""

    name = "clickhouse"
    functions = _FUNCTIONS

    def placeholder(self, index: int) -> str:
        """`%(p0)s`, `%(p1)s`, ..."""
        return f"%(p{index})s"

    def bind(self, values: list[Any]) -> dict[str, Any]:
        """A dict keyed p0, p1, ..."""
        return {f"p{index}": value for index, value in enumerate(values)}

    def value(self, placeholder: str, value: Any) -> str:
        """Timestamps are read as UTC whatever the server's own time zone."""
        if isinstance(value, datetime):
            return f"toDateTime({placeholder}, 'UTC')"
        return placeholder

    def literal(self, value: str | int | float | bool) -> str:
        """Booleans are UInt8 in ClickHouse 18.16."""
        if isinstance(value, bool):
            return "1" if value else "0"
        return super().literal(value)

    def join_keyword(self) -> str:
        """Old releases refuse a join without its strictness."""
        return "ALL INNER JOIN"

    def limit(self, limit: int | None, offset: int) -> str:
        """`LIMIT offset, count` (18.16 has no OFFSET keyword)."""
        if limit is None:
            return ""
        return f" LIMIT {int(offset)}, {int(limit)}"
