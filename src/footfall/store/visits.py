"""The embedded store's per-visit rollup: one row per closed visit, kept beside `events`.

A visit (session_id) is *closed* once its last event is older than the watermark W, a time the
store advances to "now minus the session timeout and a margin" at every checkpoint. The
`visits` table holds exactly the closed visits, each with the figures the query planner would
otherwise compute by grouping the visit's events: visitor, first and last time, event and
pageview counts, engagement, bounce, duration, and the visit's attributes (entry and exit page,
source, referrer, channel, UTM, tracked-link attribution). Only human events (is_bot = false)
count, as in every query that leaves machines out.

A visit is *open* while it has an event at or after W. The invariant: every visit that is not
open has exactly one row here, computed over all its events. Open visits may have a stale row
(a visit that got a late event), which queries ignore: they take the rows of visits that are
not open and group the open ones from `events` (footfall.query.plan). It holds because:
- a checkpoint moves W up to W' and (re)builds the rows of the visits that stop being open:
  those with an event in [W, W') and none at or after W';
- a batch with an event before W (a late arrival, an import) lowers W to that time in the
  batch's transaction, so every visit it touches is open; a batch of newer events only touches
  visits that are open anyway. No batch ever scans the rollup;
- retention drops rows of visits starting before the cutoff and rebuilds the ones it cut.

A second time F (`open_from`) bounds the open visits that have no row: none of their events is
older than F. Batches lower F to their first event, checkpoints raise it to the first event of
the visits still open. With W, F and the rows' own times, a query reads only the stretches of
`events` that hold open or cut visits.

Each row also links to the visitor's previous visit with a counted event (`prev_ev_ts`, the
time of that visit's first counted event) and, per attribute of LINKED_ATTRIBUTES, to the previous
one with the same value (`prev_source_ts`...), relinked for every visitor a checkpoint or
retention touches. With them the planner counts unique visitors, of the site or per source,
channel, entry page..., as "visits with no earlier one in the period" instead of hashing every
visitor id. Rows per visit and value (footfall.store.visit_values) do the same for the
dimensions that are not one value per visit: pages, locations, devices.
The definitions below mirror the planner's (footfall.query.columns.visit_attribute and
footfall.query.plan); tests/integration/test_query_rollup.py compares every metric and
dimension with and without the rollup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from footfall.store import visit_days, visit_values
from footfall.store.rollup_layout import LINKED_ATTRIBUTES, VALUE_TABLES, link_column

# The rollup's columns and DuckDB types; the planner reads them by these names.
VISIT_COLUMNS: dict[str, str] = {
    "site_id": "UINTEGER",
    "session_id": "UBIGINT",
    "vid": "UBIGINT",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "ev": "BIGINT",
    "pv": "BIGINT",
    "eng_ms": "HUGEINT",
    "eng_pages": "BIGINT",
    "bounce": "INTEGER",
    "dur": "BIGINT",
    # The visit's first counted (non-engagement) event, and that of the visitor's previous
    # visit with one (NULL: none): the planner counts a visitor's first visit in a period
    # instead of distinct visitor ids.
    "first_ev_ts": "TIMESTAMP",
    "prev_ev_ts": "TIMESTAMP",
    "s_entry_page": "VARCHAR",
    "s_exit_page": "VARCHAR",
    "s_source": "VARCHAR",
    "s_referrer": "VARCHAR",
    "s_channel": "VARCHAR",
    "s_utm_source": "VARCHAR",
    "s_utm_medium": "VARCHAR",
    "s_utm_campaign": "VARCHAR",
    "s_utm_content": "VARCHAR",
    "s_utm_term": "VARCHAR",
    "s_link_code": "UBIGINT",
    "s_link_campaign": "UBIGINT",
    "s_link_recipient": "VARCHAR",
    # Per visit attribute, the visitor's previous visit with the same value (its first_ev_ts).
    **{link_column(name): "TIMESTAMP" for name in LINKED_ATTRIBUTES},
}

# The rollup's state: W, and F (no event of an open visit without a row is older than F).
_STATE_COLUMNS: dict[str, str] = {
    "watermark": "TIMESTAMP NOT NULL",
    "open_from": "TIMESTAMP NOT NULL",
}

# Before the first checkpoint every visit is open: the rollup starts empty, W and F at the epoch.
_EPOCH = datetime(1970, 1, 1)

_PAGEVIEW = "kind = 'pageview'"
_LINKED = "link_id <> 0"

# One row per visit of the events matching {where}, grouped like the planner groups them (first
# and last by epoch milliseconds, as the planner orders them on both stores).
_ROLLUP = f"""
SELECT
    site_id,
    session_id,
    any_value(visitor_id) AS vid,
    min(ts) AS start_ts,
    max(ts) AS end_ts,
    count(*) FILTER (WHERE kind <> 'engagement') AS ev,
    count(*) FILTER (WHERE {_PAGEVIEW}) AS pv,
    coalesce(sum(engagement_ms) FILTER (WHERE kind = 'engagement'), 0) AS eng_ms,
    count(DISTINCT pathname) FILTER (WHERE kind = 'engagement') AS eng_pages,
    CASE WHEN count(*) FILTER (WHERE {_PAGEVIEW}) = 1
          AND count(*) FILTER (WHERE kind IN ('event', 'conversion') AND interactive) = 0
         THEN 1 ELSE 0 END AS bounce,
    epoch_ms(max(ts)) // 1000 - epoch_ms(min(ts)) // 1000 AS dur,
    min(ts) FILTER (WHERE kind <> 'engagement') AS first_ev_ts,
    coalesce(arg_min(pathname, epoch_ms(ts)) FILTER (WHERE {_PAGEVIEW}), '') AS s_entry_page,
    coalesce(arg_max(pathname, epoch_ms(ts)) FILTER (WHERE {_PAGEVIEW}), '') AS s_exit_page,
    arg_min(referrer_source, epoch_ms(ts)) AS s_source,
    arg_min(referrer, epoch_ms(ts)) AS s_referrer,
    arg_min(channel, epoch_ms(ts)) AS s_channel,
    arg_min(utm_source, epoch_ms(ts)) AS s_utm_source,
    arg_min(utm_medium, epoch_ms(ts)) AS s_utm_medium,
    arg_min(utm_campaign, epoch_ms(ts)) AS s_utm_campaign,
    arg_min(utm_content, epoch_ms(ts)) AS s_utm_content,
    arg_min(utm_term, epoch_ms(ts)) AS s_utm_term,
    coalesce(arg_min(link_id, epoch_ms(ts)) FILTER (WHERE {_LINKED}), 0) AS s_link_code,
    coalesce(arg_min(campaign_id, epoch_ms(ts)) FILTER (WHERE {_LINKED}), 0) AS s_link_campaign,
    coalesce(arg_min(recipient, epoch_ms(ts)) FILTER (WHERE {_LINKED}), '') AS s_link_recipient
FROM events
WHERE NOT is_bot AND {{where}}
GROUP BY site_id, session_id
ORDER BY start_ts
"""


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the rollup and its watermark when missing (inside the caller's transaction).

    A rollup from a release with other columns is dropped and the watermark reset: the next
    checkpoint rebuilds it from the events.
    """
    visits, state = _columns(con, "visits"), _columns(con, "visits_watermark")
    values = [_columns(con, table) for table in VALUE_TABLES]
    if (
        (visits and visits != list(VISIT_COLUMNS))
        or (state and state != list(_STATE_COLUMNS))
        or (visits and any(found != list(visit_values.VALUE_COLUMNS) for found in values))
    ):
        for table in ("visits", "visits_watermark", *VALUE_TABLES, *visit_days.LAYOUTS):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    # The per-day sums are rebuilt from the rows, per site, when queried again.
    if any(_columns(con, table) != list(kept) for table, kept in visit_days.LAYOUTS.items()):
        for table in visit_days.LAYOUTS:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    visit_values.create(con)
    visit_days.create(con)
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in VISIT_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS visits (\n    {columns}\n)")
    state_columns = ", ".join(f"{name} {kind}" for name, kind in _STATE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS visits_watermark ({state_columns})")
    found = con.execute("SELECT count(*) FROM visits_watermark").fetchone()
    if found is not None and found[0] == 0:
        con.execute("INSERT INTO visits_watermark VALUES (?, ?)", [_EPOCH, _EPOCH])
    con.execute("CREATE TABLE IF NOT EXISTS visits_generation (generation UBIGINT NOT NULL)")
    found = con.execute("SELECT count(*) FROM visits_generation").fetchone()
    if found is not None and found[0] == 0:
        con.execute("INSERT INTO visits_generation VALUES (0)")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [str(row[0]) for row in rows]


def watermark(con: duckdb.DuckDBPyConnection) -> datetime:
    """W: a visit with no event at or after it is closed and has its row here."""
    row = con.execute("SELECT watermark FROM visits_watermark").fetchone()
    return row[0] if row else _EPOCH


def generation(con: duckdb.DuckDBPyConnection) -> int:
    """A count of the writes that may have opened visits or moved W or F: what a reader
    derived from the open visits holds until it changes."""
    row = con.execute("SELECT generation FROM visits_generation").fetchone()
    return int(row[0]) if row else 0


def _written(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE visits_generation SET generation = generation + 1")


def _open_from(con: duckdb.DuckDBPyConnection) -> datetime:
    row = con.execute("SELECT open_from FROM visits_watermark").fetchone()
    return row[0] if row else _EPOCH


def after_insert(con: duckdb.DuckDBPyConnection, earliest: datetime | None) -> None:
    """Keep the invariants after a batch whose first human event is at `earliest` joined
    `events` (inside the batch's transaction): an event before W lowers W to its time, and
    one before F lowers F."""
    if earliest is None:
        return
    _written(con)
    earliest = _naive_utc(earliest)
    con.execute(
        "UPDATE visits_watermark SET watermark = least(watermark, $1), "
        "open_from = least(open_from, $1)",
        [earliest],
    )


STEP = timedelta(days=30)


def steps(
    read: Callable[[str, list[Any] | None], list[tuple[Any, ...]]], until: datetime
) -> list[datetime]:
    """The watermarks to advance through on the way to `until`: 30 days at a time from the
    first human event at or after W, ending with `until` itself."""
    until = _naive_utc(until)
    found = read(
        "SELECT min(ts) FROM events WHERE NOT is_bot "
        "AND ts >= (SELECT watermark FROM visits_watermark)",
        None,
    )
    first = found[0][0] if found else None
    points: list[datetime] = []
    if first is not None:
        point = first + STEP
        while point < until:
            points.append(point)
            point += STEP
    return [*points, until]


def advance(con: duckdb.DuckDBPyConnection, until: datetime) -> int:
    """Move W up to `until`: (re)build the rows of the visits that stop being open, those with
    an event in [W, until) and none after. Returns how many rows were written. Runs inside
    the caller's transaction."""
    until = _naive_utc(until)
    current = watermark(con)
    if until <= current:
        return 0
    _written(con)
    # The visits with an event in [W, until), less those with one after: the later events are
    # matched against the few candidates (not hashed all), so a long catch-up stays linear.
    con.execute(
        "CREATE TEMP TABLE candidates AS SELECT DISTINCT site_id, session_id FROM events "
        "WHERE NOT is_bot AND ts >= $1 AND ts < $2",
        [current, until],
    )
    try:
        con.execute(
            "CREATE TEMP TABLE closing AS SELECT site_id, session_id FROM candidates EXCEPT "
            "SELECT site_id, session_id FROM events JOIN candidates USING (site_id, session_id) "
            "WHERE NOT is_bot AND ts >= $1",
            [until],
        )
    finally:
        con.execute("DROP TABLE candidates")
    try:
        # The closing visits were open: their events lie from F on, or from their stale
        # row's start (a reopened visit). Bounding the scan lets DuckDB skip older row groups.
        found = con.execute(
            "SELECT least($1, min(start_ts)) FROM visits JOIN closing USING (site_id, session_id)",
            [_open_from(con)],
        ).fetchone()
        since = found[0] if found and found[0] is not None else _open_from(con)
        closing = "(site_id, session_id) IN (SELECT site_id, session_id FROM closing)"
        visit_days.record(con, "visits", [visit_days.Change("visits", -1, closing)])
        con.execute(
            "DELETE FROM visits USING closing "
            "WHERE visits.site_id = closing.site_id AND visits.session_id = closing.session_id"
        )
        written = con.execute(
            "INSERT INTO visits BY NAME " + _ROLLUP.format(where=f"ts >= $1 AND {closing}"),
            [since],
        ).fetchone()
        _link(
            con,
            "SELECT DISTINCT site_id, vid FROM visits JOIN closing USING (site_id, session_id)",
            rebuilt=("closing", since),
        )
    finally:
        con.execute("DROP TABLE closing")
    # F: the first event of the visits still open. Those without a row have every event at
    # or after the old F, so the scan starts there.
    con.execute(
        "CREATE TEMP TABLE still_open AS SELECT DISTINCT site_id, session_id FROM events "
        "WHERE NOT is_bot AND ts >= $1",
        [until],
    )
    try:
        con.execute(
            "UPDATE visits_watermark SET watermark = $2, open_from = coalesce(("
            "SELECT min(ts) FROM events JOIN still_open USING (site_id, session_id) "
            "WHERE NOT is_bot AND ts >= $1), $2)",
            [_open_from(con), until],
        )
    finally:
        con.execute("DROP TABLE still_open")
    return int(written[0]) if written else 0


def after_retention(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """After events before `cutoff` went: drop the visits starting before it and rebuild
    the closed ones it cut in two from their remaining events."""
    cutoff = _naive_utc(cutoff)
    _written(con)
    con.execute(
        "CREATE TEMP TABLE cut_visits AS "
        "SELECT site_id, session_id FROM visits WHERE start_ts < ? AND end_ts >= ?",
        [cutoff, cutoff],
    )
    try:
        visit_days.record(
            con, "visits", [visit_days.Change("visits", -1, "start_ts < $1", (cutoff,))]
        )
        con.execute("DELETE FROM visits WHERE start_ts < ?", [cutoff])
        visit_values.after_retention(con, cutoff)
        cut = "(site_id, session_id) IN (SELECT site_id, session_id FROM cut_visits)"
        con.execute("INSERT INTO visits BY NAME " + _ROLLUP.format(where=cut))
        # Links to visits now gone point before the cutoff: relink those visitors.
        _link(
            con,
            f"SELECT DISTINCT site_id, vid FROM visits WHERE prev_ev_ts < $1 OR {cut}",
            [cutoff],
            rebuilt=("cut_visits", cutoff),
        )
    finally:
        con.execute("DROP TABLE cut_visits")


def _link(
    con: duckdb.DuckDBPyConnection,
    visitors: str,
    params: list[object] | None = None,
    *,
    rebuilt: tuple[str, datetime],
) -> None:
    """Recompute the links (`prev_ev_ts`, and those of LINKED_ATTRIBUTES) of every visit of the
    (site_id, vid) pairs `visitors` selects; `rebuilt`: the temp table of the visits whose rows
    were just rebuilt, and the time their events start at, for their rows per value (rebuilt
    and relinked with the visitors'). The visits of `rebuilt` belong to those visitors."""
    con.execute(f"CREATE TEMP TABLE relink AS {visitors}", params)
    try:
        pairs = "(site_id, vid) IN (SELECT site_id, vid FROM relink)"
        # Rows start no earlier than their visitor's first visit: a bound that lets DuckDB
        # skip the older row groups of every table below (a cookieless visitor id lives a
        # day or two).
        found = con.execute(f"SELECT min(start_ts) FROM visits WHERE {pairs}").fetchone()
        if found is None or found[0] is None:
            return
        since_visitors: datetime = found[0]
        theirs = f"start_ts >= $1 AND {pairs}"
        links = {"prev_ev_ts": ""} | {link_column(name): f", {name}" for name in LINKED_ATTRIBUTES}
        # Only visits with a counted event link and are linked to.
        windows = ", ".join(
            f"CASE WHEN ev > 0 THEN lag(first_ev_ts) OVER (PARTITION BY site_id, vid, ev > 0{by} "
            f"ORDER BY first_ev_ts, session_id) END AS {link}"
            for link, by in links.items()
        )
        # The visitors' rows are taken out, linked and put back in time order (DuckDB
        # rewrites rows faster than it updates this many columns).
        con.execute(
            f"CREATE TEMP TABLE old_visits AS SELECT * FROM visits WHERE {theirs}",
            [since_visitors],
        )
        try:
            con.execute(
                f"CREATE TEMP TABLE relinked AS SELECT * REPLACE ({windows}) FROM old_visits"
            )
            con.execute(f"DELETE FROM visits WHERE {theirs}", [since_visitors])
            con.execute("INSERT INTO visits SELECT * FROM relinked ORDER BY start_ts")
            # The sums hold every old row but the rebuilt ones (summed when written).
            table = rebuilt[0]
            old = f"(site_id, session_id) NOT IN (SELECT site_id, session_id FROM {table})"
            changes = [visit_days.Change("old_visits", -1, old), visit_days.Change("relinked", 1)]
            visit_days.record(con, "visits", changes)
        finally:
            con.execute("DROP TABLE IF EXISTS relinked")
            con.execute("DROP TABLE old_visits")
        visit_values.update(con, *rebuilt, "relink", since_visitors)
    finally:
        con.execute("DROP TABLE relink")


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
