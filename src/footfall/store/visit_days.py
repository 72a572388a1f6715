"""Per-day sums of the visit rollup's linked rows, on a site's own calendar.

A dashboard asks for whole days in the site's time zone. Over those, the rollup's linked rows
(footfall.store.visits, footfall.store.visit_values) are counted by three days only: the
local day the visit starts, the day it ends, and the day of the row's link (the visitor's
previous row with the value). The summaries below keep exactly those sums, so a period's
visitors, visits, pageviews, bounces and duration per value are read from a few rows per day
instead of every visit: a row counts its visitor when its link's day lies before the period's
first day (footfall.query.plan).

Each summary is a table of (site, value, counted kind, start day, end day, link day) keys with
sums. It is kept as a log of signed changes: every statement that deletes rows of the rollup
first adds their sums negated, and every rebuilt row is added once written; queries sum the
log, and a checkpoint compacts it once it has doubled. Only sites the store was asked about
(`DuckDBEventStore.summarised`, from every query) are summed, in the zone they asked in; a site
asking in another zone is summed again. A row finds its local days through `rollup_slots`: the
site's local day of each quarter hour (every zone's midnight starts one), from Python's
zoneinfo like the planner's own bounds (footfall.query.dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb

from footfall.store.rollup_layout import LINKED_ATTRIBUTES, VALUE_DIMENSIONS, link_column


@dataclass(frozen=True)
class Link:
    """One way a summary counts its rows: those with `counted` > 0, linked by `column`."""

    column: str
    counted: str
    pageviews: bool  # the rows counted are those with a pageview (the `pageviews` key)


@dataclass(frozen=True)
class Summary:
    """The per-day sums of one rollup table's rows, by one value column."""

    table: str  # the summary's own table
    source: str  # the rollup table it sums
    value: str | None  # the source's value column (None: whole visits, summed as '')
    links: tuple[Link, ...]


_BY_EVENTS = Link("prev_ev_ts", "ev", pageviews=False)

# The summaries: whole visits, each linked visit attribute, and each dimension's value rows.
SUMMARIES: tuple[Summary, ...] = (
    Summary("visit_days", "visits", None, (_BY_EVENTS,)),
    *(
        Summary(
            f"visit_days_{name.removeprefix('s_')}",
            "visits",
            name,
            (Link(link_column(name), "ev", pageviews=False),),
        )
        for name in LINKED_ATTRIBUTES
    ),
    *(
        Summary(
            f"{table}_days",
            table,
            "value",
            (Link("prev_ts", "ev", pageviews=False), Link("prev_pv_ts", "pv", pageviews=True)),
        )
        for table, _ in VALUE_DIMENSIONS.values()
    ),
)
TABLES = tuple(summary.table for summary in SUMMARIES)
_BY_SOURCE: dict[str, list[Summary]] = {}
for _summary in SUMMARIES:
    _BY_SOURCE.setdefault(_summary.source, []).append(_summary)


def visits_summary(attribute: str | None = None) -> str:
    """The summary table of whole visits, or of the visit attribute column `attribute`."""
    if attribute is None:
        return "visit_days"
    return f"visit_days_{attribute.removeprefix('s_')}"


def values_summary(table: str) -> str:
    """The summary table of a value table of footfall.store.visit_values."""
    return f"{table}_days"


SUMMARY_COLUMNS: dict[str, str] = {
    "site_id": "UINTEGER",
    "value": "VARCHAR",
    "pageviews": "BOOLEAN",
    # The site's local days of the visit's start and end, and of the row's link (NULL: none).
    "start_day": "DATE",
    "end_day": "DATE",
    "prev_day": "DATE",
    # Rows, and the sums of their events, pageviews, bounces and duration (whole visits only).
    "n": "BIGINT",
    "ev": "BIGINT",
    "pv": "BIGINT",
    "bounces": "BIGINT",
    "dur": "BIGINT",
}
_KEY = ("site_id", "value", "pageviews", "start_day", "end_day", "prev_day")

# Each summarised site's zone, and the site's local day of each quarter hour.
ZONES_TABLE = "rollup_zones"
SLOTS_TABLE = "rollup_slots"
# The local days `rollup_slots` covers for the site (NULL: none yet).
_ZONE_COLUMNS = {
    "site_id": "UINTEGER",
    "zone": "VARCHAR",
    "first_day": "DATE",
    "last_day": "DATE",
}
# Each quarter hour since the epoch, and the site's local day it lies in.
_SLOT_COLUMNS = {"site_id": "UINTEGER", "slot": "BIGINT", "day": "DATE"}
_SLOT_MS = 15 * 60 * 1000
# The rows each summary held after its last compaction.
_STATE_TABLE = "rollup_days_state"
_STATE_COLUMNS = {"summary": "VARCHAR", "compacted": "BIGINT"}

LAYOUTS: dict[str, dict[str, str]] = {
    **dict.fromkeys(TABLES, SUMMARY_COLUMNS),
    ZONES_TABLE: _ZONE_COLUMNS,
    SLOTS_TABLE: _SLOT_COLUMNS,
    _STATE_TABLE: _STATE_COLUMNS,
}

# A summary is compacted once its log holds twice its rows after the last compaction, and this
# many more.
COMPACT_SLACK = 10_000

# A site's sums are built from this long a stretch of its rows at a time.
_BUILD_STEP = timedelta(days=30)

# Days are kept a little beyond the rows' own, so a checkpoint seldom adds any.
_MARGIN = timedelta(days=2)


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables when missing (the caller drops them all when one's layout changed)."""
    for table, layout in LAYOUTS.items():
        columns = ", ".join(f"{name} {kind}" for name, kind in layout.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


def zones(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """The summarised sites and their zones."""
    rows = con.execute(f"SELECT site_id, zone FROM {ZONES_TABLE}").fetchall()
    return {int(site): str(zone) for site, zone in rows}


def build(con: duckdb.DuckDBPyConnection, site_id: int, zone: str) -> None:
    """Sum the site's rows in `zone`, replacing any sums in another (inside the caller's
    transaction)."""
    for table in TABLES:
        con.execute(f"DELETE FROM {table} WHERE site_id = ?", [site_id])
    con.execute(f"DELETE FROM {SLOTS_TABLE} WHERE site_id = ?", [site_id])
    con.execute(f"DELETE FROM {ZONES_TABLE} WHERE site_id = ?", [site_id])
    con.execute(f"INSERT INTO {ZONES_TABLE} VALUES (?, ?, NULL, NULL)", [site_id, zone])
    for source in _BY_SOURCE:
        found = con.execute(
            f"SELECT min(start_ts), max(start_ts) FROM {source} WHERE site_id = ?", [site_id]
        ).fetchone()
        if found is None or found[0] is None:
            continue
        # A month of rows at a time: each step's memory stays bounded (12 months of a
        # large site would not fit at once).
        moment, last = found
        while moment <= last:
            following = moment + _BUILD_STEP
            part = "site_id = $1 AND start_ts >= $2 AND start_ts < $3"
            record(con, source, [Change(source, 1, part, (site_id, moment, following))])
            moment = following


@dataclass(frozen=True)
class Change:
    """Rows of a rollup table to add to its summaries: those of `table` (the rollup table
    itself, or a temp table with its columns) matching `where`, times `sign`: -1 for rows
    about to be deleted, 1 for rows written."""

    table: str
    sign: int
    where: str = "TRUE"
    params: tuple[object, ...] = ()


def record(con: duckdb.DuckDBPyConnection, source: str, changes: Sequence[Change]) -> None:
    """Add the `changes` of the rollup table `source` to each of its summaries (inside the
    caller's transaction). Rows taken out and written back with the same days and figures
    cancel out before they reach the log."""
    summaries = _BY_SOURCE[source]
    links = sorted({link.column for summary in summaries for link in summary.links})
    summed = f"site_id IN (SELECT site_id FROM {ZONES_TABLE})"
    for index, change in enumerate(changes):
        select = f"SELECT *, {change.sign} AS sign FROM {change.table} WHERE {change.where}"
        into = (
            "CREATE TEMP TABLE summed_rows AS" if index == 0 else "INSERT INTO summed_rows BY NAME"
        )
        con.execute(f"{into} {select} AND {summed}", list(change.params))
    try:
        earliest = ", ".join(["start_ts", *links])
        found = con.execute(
            f"SELECT min(least({earliest})), max(end_ts) FROM summed_rows"
        ).fetchone()
        if found is None or found[0] is None:
            return
        _cover(con, found[0], found[1])
        # Each row's local days: those of its start, its end and each link, looked up by
        # the quarter hour they fall in (every zone's midnight starts one).
        slots = (
            f"SELECT site_id, slot, day FROM {SLOTS_TABLE} "
            f"WHERE slot BETWEEN {_slot('$1')} AND {_slot('$2')}"
        )
        joins = [("start_day", "start_ts", "JOIN"), ("end_day", "end_ts", "JOIN")]
        joins += [(f"{column}_day", column, "LEFT JOIN") for column in links]
        days = ", ".join(f"{alias}.day AS {alias}" for alias, _, _ in joins)
        joined = " ".join(
            f"{kind} slots AS {alias} ON {alias}.site_id = r.site_id "
            f"AND {alias}.slot = {_slot(f'r.{column}')}"
            for alias, column, kind in joins
        )
        con.execute(
            f"CREATE TEMP TABLE summed_days AS WITH slots AS MATERIALIZED ({slots}) "
            f"SELECT r.*, {days} FROM summed_rows AS r {joined}",
            [found[0], found[1]],
        )
        try:
            for summary in summaries:
                for link in summary.links:
                    _add(con, summary, link)
        finally:
            con.execute("DROP TABLE summed_days")
    finally:
        con.execute("DROP TABLE summed_rows")


def _slot(moment: str) -> str:
    """SQL for the quarter hour (since the epoch) of the naive UTC time `moment`."""
    return f"(epoch_ms({moment}) // {_SLOT_MS})"


def _add(con: duckdb.DuckDBPyConnection, summary: Summary, link: Link) -> None:
    value = summary.value or "''"
    visits = summary.value is None
    sums = {
        "n": "sign",
        "ev": "sign * ev",
        "pv": "sign * pv",
        "bounces": "sign * bounce" if visits else "0",
        "dur": "sign * dur" if visits else "0",
    }
    totals = ", ".join(f"sum({expr})" for expr in sums.values())
    changed = " OR ".join(f"sum({expr}) <> 0" for expr in sums.values())
    con.execute(
        f"INSERT INTO {summary.table} ({', '.join(SUMMARY_COLUMNS)}) "
        f"SELECT site_id, {value}, {link.pageviews}, start_day, end_day, {link.column}_day, "
        f"{totals} FROM summed_days WHERE {link.counted} > 0 "
        f"GROUP BY site_id, {value}, start_day, end_day, {link.column}_day HAVING {changed}"
    )


def _cover(con: duckdb.DuckDBPyConnection, first: datetime, last: datetime) -> None:
    """Make `rollup_slots` hold every summarised site's quarter hours from before `first` to
    after `last` (naive UTC), whole local days at a time."""
    rows = con.execute(f"SELECT site_id, zone, first_day, last_day FROM {ZONES_TABLE}").fetchall()
    for site_id, zone_name, low, high in rows:
        zone = ZoneInfo(zone_name)
        wanted_low = (first.replace(tzinfo=UTC) - _MARGIN).astimezone(zone).date()
        wanted_high = (last.replace(tzinfo=UTC) + _MARGIN).astimezone(zone).date()
        if low is None:
            missing = [(wanted_low, wanted_high)]
        else:
            missing = [
                (wanted_low, low - timedelta(days=1)),
                (high + timedelta(days=1), wanted_high),
            ]
        days: list[date] = []
        for start, end in missing:
            days += [start + timedelta(days=n) for n in range((end - start).days + 1)]
        if not days:
            continue
        bounds = [_slot_of(_midnight(day, zone)) for day in days]
        following = [_slot_of(_midnight(day + timedelta(days=1), zone)) for day in days]
        # Each day's quarter hours, from its midnight's to the next one's.
        con.execute(
            f"INSERT INTO {SLOTS_TABLE} SELECT $1, unnest(range(low, high)), day "
            "FROM (SELECT unnest($2) AS day, unnest($3) AS low, unnest($4) AS high)",
            [int(site_id), days, bounds, following],
        )
        con.execute(
            f"UPDATE {ZONES_TABLE} SET first_day = least(first_day, $2), "
            "last_day = greatest(last_day, $3) WHERE site_id = $1",
            [int(site_id), min(days), max(days)],
        )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of the local `day` in `zone`."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _slot_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1000) // _SLOT_MS


def compact(con: duckdb.DuckDBPyConnection) -> None:
    """Fold each summary's log into one row per key once it has doubled since the last time
    (inside the caller's transaction)."""
    sizes = dict(con.execute(f"SELECT summary, compacted FROM {_STATE_TABLE}").fetchall())
    for table in TABLES:
        found = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        rows = int(found[0]) if found else 0
        if rows <= 2 * int(sizes.get(table, 0)) + COMPACT_SLACK:
            continue
        key = ", ".join(_KEY)
        sums = ", ".join(f"sum({name})" for name in SUMMARY_COLUMNS if name not in _KEY)
        con.execute(
            f"CREATE TEMP TABLE compacted AS SELECT {key}, {sums} FROM {table} "
            f"GROUP BY ALL HAVING sum(n) <> 0 ORDER BY site_id, start_day"
        )
        try:
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT * FROM compacted")
            kept = con.execute("SELECT count(*) FROM compacted").fetchone()
        finally:
            con.execute("DROP TABLE compacted")
        con.execute(f"DELETE FROM {_STATE_TABLE} WHERE summary = ?", [table])
        con.execute(
            f"INSERT INTO {_STATE_TABLE} VALUES (?, ?)", [table, int(kept[0]) if kept else 0]
        )
