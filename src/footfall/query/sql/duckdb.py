"""The DuckDB spelling of the SQL tree: `$n` parameters in a list, FILTER clauses, ICU zones."""

from __future__ import annotations

from typing import Any

from footfall.query.sql.dialect import Dialect, Spelling


def _local(ts: str, zone: str) -> str:
    # ts is naive UTC: read it as UTC, then take the wall clock time in the site's zone.
    return f"timezone({zone}, timezone('UTC', {ts}))"


_FUNCTIONS: dict[str, Spelling] = {
    "count": lambda a: "count(*)",
    "count_if": lambda a: f"count(*) FILTER (WHERE {a[0]})",
    "sum": lambda a: f"sum({a[0]})",
    "sum_if": lambda a: f"coalesce(sum({a[0]}) FILTER (WHERE {a[1]}), 0)",
    "uniq": lambda a: f"count(DISTINCT {a[0]})",
    # DuckDB hashes a DISTINCT aggregate's values before its FILTER applies: values outside
    # the condition as NULLs (which count(DISTINCT) skips) leave it far fewer to hash.
    "uniq_if": lambda a: f"count(DISTINCT CASE WHEN {a[1]} THEN {a[0]} END)",
    "uniq2_if": lambda a: f"count(DISTINCT CASE WHEN {a[2]} THEN row({a[0]}, {a[1]}) END)",
    "any": lambda a: f"any_value({a[0]})",
    "min": lambda a: f"min({a[0]})",
    "max": lambda a: f"max({a[0]})",
    "arg_min": lambda a: f"arg_min({a[0]}, {a[1]})",
    "arg_min_if": lambda a: f"coalesce(arg_min({a[0]}, {a[1]}) FILTER (WHERE {a[2]}), '')",
    "arg_min_if_num": lambda a: f"coalesce(arg_min({a[0]}, {a[1]}) FILTER (WHERE {a[2]}), 0)",
    "arg_max_if": lambda a: f"coalesce(arg_max({a[0]}, {a[1]}) FILTER (WHERE {a[2]}), '')",
    # Whole seconds, as ClickHouse's second-precision times give (integer math is fastest).
    "seconds_between": lambda a: f"(epoch_ms({a[1]}) // 1000 - epoch_ms({a[0]}) // 1000)",
    "prop": lambda a: (
        f"coalesce(list_element(props_values, list_position(props_keys, {a[0]})), '')"
    ),
    "contains": lambda a: f"contains({a[0]}, {a[1]})",
    "coalesce": lambda a: f"coalesce({a[0]}, {a[1]})",
    "least": lambda a: f"least({a[0]}, {a[1]})",
    "greatest": lambda a: f"greatest({a[0]}, {a[1]})",
    "lower": lambda a: f"lower({a[0]})",
    "matches": lambda a: f"regexp_matches({a[0]}, {a[1]})",
    "to_float": lambda a: f"CAST({a[0]} AS DOUBLE)",
    "to_string": lambda a: f"CAST({a[0]} AS VARCHAR)",
    "shift": lambda a: f"({a[0]} + to_seconds({a[1]}))",
    "bucket_minute": lambda a: f"date_trunc('minute', {a[0]})",
    "bucket_hour": lambda a: f"date_trunc('hour', {a[0]})",
    "bucket_day": lambda a: f"CAST({a[0]} AS DATE)",
    "bucket_week": lambda a: f"CAST(date_trunc('week', {a[0]}) AS DATE)",
    "bucket_month": lambda a: f"CAST(date_trunc('month', {a[0]}) AS DATE)",
    "local_date": lambda a: f"strftime({_local(a[0], a[1])}, '%Y-%m-%d')",
    "ts_epoch_ms": lambda a: "epoch_ms(ts)",
    # The visit rollup's watermark (footfall.store.visits), read in the query's own snapshot.
    "watermark": lambda a: "(SELECT watermark FROM visits_watermark)",
    "open_from": lambda a: "(SELECT open_from FROM visits_watermark)",
    "burst_key": lambda a: "CAST(campaign_id AS VARCHAR) || '|' || recipient",
    "recipient_key": lambda a: (
        "CASE WHEN recipient <> '' THEN recipient ELSE '#' || CAST(visitor_id AS VARCHAR) END"
    ),
}


class DuckDBDialect(Dialect):
    """DuckDB: exact `count(DISTINCT ...)`, aggregate FILTER clauses, numbered `$n` params."""

    name = "duckdb"
    functions = _FUNCTIONS

    def placeholder(self, index: int) -> str:
        """`$1`, `$2`, ...: numbered, so fragments may bind in any order."""
        return f"${index + 1}"

    def bind(self, values: list[Any]) -> list[Any]:
        """A positional list."""
        return values
