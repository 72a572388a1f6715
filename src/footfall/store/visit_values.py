"""The visit rollup's rows per visit and value: how the embedded store counts unique visitors
per page, country, browser... without hashing every visitor id.

For each closed visit in `visits` (footfall.store.visits) and each dimension of
VALUE_DIMENSIONS, the dimension's table holds one row per value the visit's counted (human,
non-engagement) events carry: the visitor, the visit's bounds, the value's first event and
first pageview in the visit, and its event and pageview counts. Each row links to the
visitor's earlier visits with the same value: `prev_ts` is the previous one's `first_ts`,
`prev_pv_ts` the latest `first_pv_ts` among them. A visitor then counts once per value, at
their first row in a period, the way the visit rollup counts the whole site's visitors
(footfall.query.plan). One table per dimension keeps a query's scan to its own rows.

The rows live and die with their visit's row: a checkpoint (re)builds the rows of the visits
it closes, retention drops and rebuilds those of the visits it cuts, and both relink every
visitor they touch. A stale visit row (a reopened visit) has stale value rows, which queries
ignore the same way.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from footfall.store import visit_days
from footfall.store.rollup_layout import VALUE_DIMENSIONS, VALUE_TABLES
from footfall.store.visit_days import Change

VALUE_COLUMNS: dict[str, str] = {
    "site_id": "UINTEGER",
    "value": "VARCHAR",
    "session_id": "UBIGINT",
    "vid": "UBIGINT",
    # The visit's bounds, as in its `visits` row: a query reads rows of visits inside its period.
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    # The value's first counted event and first pageview in the visit (NULL: no pageview).
    "first_ts": "TIMESTAMP",
    "first_pv_ts": "TIMESTAMP",
    # The links to the visitor's earlier visits with the value (NULL: none).
    "prev_ts": "TIMESTAMP",
    "prev_pv_ts": "TIMESTAMP",
    "ev": "BIGINT",
    "pv": "BIGINT",
}

# The counted events of the visits being rebuilt (the columns the dimensions read), grouped
# once per dimension below.
_EVENTS = """
CREATE TEMP TABLE value_events AS
SELECT site_id, session_id, ts, kind, {columns}
FROM events
WHERE NOT is_bot AND kind <> 'engagement' AND ts >= $1
  AND (site_id, session_id) IN (SELECT site_id, session_id FROM {sessions})
"""

# One row per visit and value of `{column}`, with the visit's visitor and bounds.
_FRESH = """
CREATE TEMP TABLE fresh_values AS
SELECT grouped.*, value_visits.vid, value_visits.start_ts, value_visits.end_ts
FROM (
    SELECT
        site_id,
        session_id,
        {column} AS value,
        min(ts) AS first_ts,
        min(ts) FILTER (WHERE kind = 'pageview') AS first_pv_ts,
        count(*) AS ev,
        count(*) FILTER (WHERE kind = 'pageview') AS pv
    FROM value_events
    GROUP BY site_id, session_id, {column}
) AS grouped
JOIN value_visits USING (site_id, session_id)
"""

# The links, over each (visitor, value)'s rows in the order of their first events.
_LINKED = """
SELECT *,
    lag(first_ts) OVER earlier AS prev_ts,
    max(first_pv_ts) OVER (earlier ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_pv_ts
FROM ({rows})
WINDOW earlier AS (PARTITION BY site_id, value, vid ORDER BY first_ts, session_id)
"""


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables when missing (the caller resets the rollup when one was missing)."""
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in VALUE_COLUMNS.items())
    for table in VALUE_TABLES:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (\n    {columns}\n)")


def update(
    con: duckdb.DuckDBPyConnection,
    sessions: str,
    since: datetime,
    visitors: str,
    since_visitors: datetime,
) -> None:
    """(Re)build the rows of the visits in the temp table `sessions` (site_id, session_id),
    whose `visits` rows are current and whose events lie at or after `since`, and relink
    every row of the visitors in the temp table `visitors` (site_id, vid), whose visits all
    start at or after `since_visitors` (the sessions' visits among them), keeping the per-day
    sums (footfall.store.visit_days) in step."""
    chosen = (
        f"start_ts >= $1 AND (site_id, session_id) IN (SELECT site_id, session_id FROM {sessions})"
    )
    # The visitors' rows, the sessions' old ones among them (a session has one visitor).
    touched = f"start_ts >= $1 AND (site_id, vid) IN (SELECT site_id, vid FROM {visitors})"
    rebuilt = f"(site_id, session_id) IN (SELECT site_id, session_id FROM {sessions})"
    names = ", ".join(VALUE_COLUMNS)
    read = ", ".join(column for _, column in VALUE_DIMENSIONS.values())
    try:
        con.execute(_EVENTS.format(columns=read, sessions=sessions), [since])
        con.execute(
            "CREATE TEMP TABLE value_visits AS SELECT site_id, session_id, vid, start_ts, end_ts "
            f"FROM visits WHERE {chosen}",
            [since_visitors],
        )
        for table, column in VALUE_DIMENSIONS.values():
            # The touched visitors' rows are few: they are taken out, linked with the new
            # ones and written back, all in their time order.
            con.execute(
                f"CREATE TEMP TABLE old_values AS SELECT * FROM {table} WHERE {touched}",
                [since_visitors],
            )
            try:
                con.execute(f"DELETE FROM {table} WHERE {touched}", [since_visitors])
                con.execute(_FRESH.format(column=column))
                try:
                    rows = (
                        "SELECT * FROM fresh_values UNION ALL BY NAME "
                        "SELECT * EXCLUDE (prev_ts, prev_pv_ts) FROM old_values "
                        f"WHERE NOT {rebuilt}"
                    )
                    con.execute(f"CREATE TEMP TABLE linked_values AS {_LINKED.format(rows=rows)}")
                finally:
                    con.execute("DROP TABLE fresh_values")
                try:
                    con.execute(
                        f"INSERT INTO {table} ({names}) SELECT {names} FROM linked_values "
                        "ORDER BY first_ts"
                    )
                    visit_days.record(
                        con, table, [Change("old_values", -1), Change("linked_values", 1)]
                    )
                finally:
                    con.execute("DROP TABLE linked_values")
            finally:
                con.execute("DROP TABLE old_values")
    finally:
        con.execute("DROP TABLE IF EXISTS value_events")
        con.execute("DROP TABLE IF EXISTS value_visits")


def after_retention(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """Drop the rows of the visits that retention dropped (those starting before `cutoff`)."""
    for table in VALUE_TABLES:
        visit_days.record(con, table, [Change(table, -1, "start_ts < $1", (cutoff,))])
        con.execute(f"DELETE FROM {table} WHERE start_ts < ?", [cutoff])
