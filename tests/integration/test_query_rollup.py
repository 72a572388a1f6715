"""The DuckDB visit rollup gives the answers grouping events gives, whatever state it is in.

Every parity query runs twice on the same store: once as planned (closed visits from the
`visits` rollup, the rest from events) and once with the rollup switched off. They must agree
after a partial roll-up (some visits closed, some open, period bounds cutting visits), after late
events reopen closed visits, after a further roll-up, and after retention cuts visits in two.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footfall.events import Event
from footfall.meta.sites import SiteInfo
from footfall.query import parse_query, run_query
from footfall.query.query import DateRange
from footfall.store import DuckDBEventStore
from tests.integration.test_query_reference import (
    METRICS,
    START,
    engine_answer,
    parity_queries,
    random_world,
    reference,
)
from tests.support.factories import custom_event, event_id, pageview, populate

SITE = SiteInfo(1, "s", "Europe/Berlin", (), (), ())
NOW = datetime(2025, 4, 10, tzinfo=UTC)
_site_ids = itertools.count(10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    duck = DuckDBEventStore(tmp_path / "events.duckdb", visit_close_after=timedelta(minutes=35))
    try:
        yield duck
    finally:
        duck.close()


def answers(store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every parity query's JSON answer, planned with the rollup and its per-day sums; asserts
    the same from the rollup's rows alone, and without the rollup."""
    found = []
    for body in parity_queries():
        query = parse_query({"site_id": "s", **body})
        with_rollup = run_query(store, query, SITE, now=NOW).to_json()
        with monkeypatch.context() as patch:
            patch.setattr(store, "summarised", lambda site_id, zone: False)
            rows_only = run_query(store, query, SITE, now=NOW).to_json()
            patch.setattr(store, "has_visit_rollup", False)
            without = run_query(store, query, SITE, now=NOW).to_json()
        assert with_rollup == rows_only == without, body
        found.append(with_rollup)
    return found


def summed_visits(store: DuckDBEventStore) -> int:
    """The visits the per-day sums hold for SITE (each summed once, in its zone)."""
    assert store.summarised(SITE.id, SITE.timezone)
    return int(store.execute("SELECT coalesce(sum(n), 0) FROM visit_days WHERE site_id = 1")[0][0])


def closed_visits(store: DuckDBEventStore) -> int:
    return int(store.execute("SELECT count(*) FROM visits")[0][0])


def late(rows: list[Event], seed: int) -> list[Event]:
    """New events for existing visits (some before their first event) and a late new visit."""
    rng = random.Random(seed)
    picked = rng.sample(rows, min(15, len(rows)))
    extra = [
        msgspec.structs.replace(
            row,
            event_id=event_id(),
            ts=row.ts + timedelta(seconds=rng.choice([-400, -1, 2, 700])),
            kind="pageview",
            name="pageview",
            pathname="/late",
        )
        for row in picked
    ]
    extra.append(pageview(site_id=1, visitor_id=999, session_id=99_999, ts=START))
    return extra


def test_the_rollup_answers_like_grouping_events_through_its_life(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = random_world(11, 1, 160)
    populate(store, rows)
    untouched = answers(store, monkeypatch)  # nothing rolled up yet: all visits open

    # Close the first day's visits: the date ranges' bounds now cut closed visits.
    store.roll_up(START + timedelta(hours=24) + store.visit_close_after)
    assert 0 < closed_visits(store) < len({row.session_id for row in rows})
    # The answers above asked for the site's per-day sums: the roll-up built them.
    assert summed_visits(store) == int(
        store.execute("SELECT count(*) FROM visits WHERE ev > 0")[0][0]
    )
    assert answers(store, monkeypatch) == untouched

    # Late events reopen closed visits (their rows go stale) and lower the watermark.
    before = rollup_watermark(store)
    populate(store, late(rows, 3))
    assert rollup_watermark(store) < before
    reopened = answers(store, monkeypatch)
    assert reopened != untouched  # the late pageviews count

    # New events of closed visits, after the watermark, reopen them too.
    store.roll_up(NOW)
    newer = [
        msgspec.structs.replace(row, event_id=event_id(), ts=NOW + timedelta(minutes=1))
        for row in rows[:5]
    ]
    populate(store, newer)
    reopened = answers(store, monkeypatch)

    # Rolling everything up changes nothing either.
    store.roll_up(NOW + timedelta(hours=1) + store.visit_close_after)
    assert closed_visits(store) == int(
        store.execute("SELECT count(DISTINCT session_id) FROM events WHERE NOT is_bot")[0][0]
    )
    assert answers(store, monkeypatch) == reopened
    assert summed_visits(store) == closed_visits(store)

    # Retention cuts visits that started before its cutoff; the rest is rebuilt.
    cutoff = START + timedelta(hours=30)
    store.delete_before(cutoff)
    assert int(store.execute("SELECT count(*) FROM visits WHERE start_ts < ?", [cutoff])[0][0]) == 0
    answers(store, monkeypatch)
    assert summed_visits(store) == int(
        store.execute("SELECT count(*) FROM visits WHERE ev > 0")[0][0]
    )


def rollup_watermark(store: DuckDBEventStore) -> datetime:
    value = store.execute("SELECT watermark FROM visits_watermark")[0][0]
    assert isinstance(value, datetime)
    return value


def test_the_planner_reads_closed_visits_from_the_rollup(store: DuckDBEventStore) -> None:
    """With every visit closed, the events table is not grouped for them: emptying the
    rollup's rows (without reopening) makes the visit figures vanish."""
    populate(store, random_world(5, 1, 40))
    store.roll_up(NOW)
    query = parse_query({"site_id": "s", "metrics": ["visits", "bounce_rate"], "date_range": "all"})
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics[0] > 0
    store.execute("DELETE FROM visits")
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics[0] == 0


def test_machines_are_never_read_from_the_rollup(store: DuckDBEventStore) -> None:
    populate(store, [pageview(site_id=1, visitor_id=1, session_id=1, ts=START, is_bot=True)])
    store.roll_up(NOW)
    assert closed_visits(store) == 0
    query = parse_query({"site_id": "s", "metrics": ["visits"], "date_range": "all"})
    everyone = dataclasses.replace(query, include_bots=True)
    assert run_query(store, everyone, SITE, now=NOW).rows[0].metrics == [1]
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics == [0]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32),
    sessions=st.integers(1, 25),
    closed_hours=st.integers(0, 48),
    dimension=st.sampled_from([None, "visit:source", "visit:country"]),
)
def test_a_partly_rolled_up_store_matches_the_python_reference(
    store: DuckDBEventStore, seed: int, sessions: int, closed_hours: int, dimension: str | None
) -> None:
    site_id = next(_site_ids)
    rows = random_world(seed, site_id, sessions)
    populate(store, rows)
    # Summed per day too (in engine_answer's zone): the checks read the sums.
    store.summarised(site_id, "Europe/Berlin")
    store.roll_up(START + timedelta(hours=closed_hours) + store.visit_close_after)
    assert store.summarised(site_id, "Europe/Berlin")
    expected = reference(rows, dimension, None)
    if not dimension and not expected:
        expected = {(): [0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0.0]}
    assert engine_answer(store, site_id, dimension, None, METRICS) == expected


def test_visits_open_across_the_watermark_are_read_whole(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visit still open at a checkpoint has events on both sides of the watermark; the
    ones before it are read too (from F), as are a reopened visit's older events."""
    moment = START + timedelta(hours=12)
    spanning = [
        pageview(site_id=1, visitor_id=1, session_id=1, ts=moment - timedelta(minutes=m))
        for m in (50, 20)
    ]
    closed = [
        pageview(site_id=1, visitor_id=2, session_id=2, ts=moment - timedelta(hours=2, minutes=m))
        for m in (10, 5)
    ]
    populate(store, spanning + closed)
    store.roll_up(moment - timedelta(minutes=30) + store.visit_close_after)
    assert closed_visits(store) == 1  # visit 2; visit 1 has an event after the watermark
    body = {"site_id": "s", "metrics": ["visitors", "visits", "pageviews", "visit_duration"]}
    query = parse_query({**body, "date_range": "all"})
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics == [2, 2, 4, 1050]
    # Visit 2 gets a much later event and is open again with a stale row.
    populate(store, [pageview(site_id=1, visitor_id=2, session_id=2, ts=moment)])
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics == [2, 2, 5, 4800]
    answers(store, monkeypatch)


def test_rows_inserted_around_the_store_reopen_the_rollup(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bulk SQL (the demo generator) bypasses `insert`; `inserted_since` keeps answers exact."""
    populate(store, random_world(3, 1, 60))
    store.roll_up(NOW)
    store.execute(
        "INSERT INTO events SELECT * REPLACE (session_id + 1000 AS session_id, "
        "ts + INTERVAL 3 HOUR AS ts, gen_random_uuid()::VARCHAR::BLOB AS event_id) FROM events"
    )
    store.inserted_since(START)
    answers(store, monkeypatch)
    store.roll_up(NOW)
    answers(store, monkeypatch)


def test_a_visitor_counts_once_per_value_across_visits(store: DuckDBEventStore) -> None:
    """Visitors per page come from the rows per visit and value, linked to the visitor's
    earlier visits with the page: counted at their first row in the period, once."""

    def at(day: int, minute: int = 0) -> datetime:
        return datetime(2025, 3, day, 12, minute, tzinfo=UTC)

    rows = [
        pageview(site_id=1, visitor_id=1, session_id=1, ts=at(1), pathname="/a"),
        custom_event("Share", site_id=1, visitor_id=1, session_id=2, ts=at(3), pathname="/a"),
        pageview(site_id=1, visitor_id=1, session_id=2, ts=at(3, 1), pathname="/b"),
        pageview(site_id=1, visitor_id=1, session_id=3, ts=at(5), pathname="/a"),
        pageview(site_id=1, visitor_id=2, session_id=4, ts=at(3), pathname="/a"),
        pageview(site_id=1, visitor_id=2, session_id=4, ts=at(3, 2), pathname="/a"),
    ]
    populate(store, rows)
    store.roll_up(NOW)

    def pages(dates: list[str], *filters: list[Any]) -> dict[str, list[Any]]:
        body = {
            "site_id": "s",
            "metrics": ["visitors", "visits", "pageviews", "events"],
            "dimensions": ["event:page"],
            "filters": list(filters),
            "date_range": dates,
        }
        result = run_query(store, parse_query(body), SITE, now=NOW)
        return {row.dimensions[0]: row.metrics for row in result.rows}

    pageviews_only = ["is", "event:name", ["pageview"]]
    assert pages(["2025-03-02", "2025-03-05"]) == {"/a": [2, 3, 3, 4], "/b": [1, 1, 1, 1]}
    assert pages(["2025-03-02", "2025-03-05"], pageviews_only) == {
        "/a": [2, 2, 3, 3],
        "/b": [1, 1, 1, 1],
    }
    # Visitor 1's earlier visits with /a lie before the period: their visit of the 5th counts.
    assert pages(["2025-03-04", "2025-03-05"]) == {"/a": [1, 1, 1, 1]}
    assert pages(["2025-03-04", "2025-03-05"], pageviews_only) == {"/a": [1, 1, 1, 1]}
    # The answers come from the rows per visit and value: without them /a is gone.
    linked = store.execute(
        "SELECT session_id, prev_ts, prev_pv_ts FROM visit_pages "
        "WHERE value = '/a' AND session_id = 3"
    )
    assert linked == [(3, at(3).replace(tzinfo=None), at(1).replace(tzinfo=None))]
    store.execute("DELETE FROM visit_pages WHERE value = '/a'")
    assert "/a" not in pages(["2025-03-02", "2025-03-05"])
    store.roll_up(NOW)  # nothing new closed: the rows stay gone
    assert "/a" not in pages(["2025-03-02", "2025-03-05"])


def test_a_visitor_with_an_open_visit_still_counts_once_per_value(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late event reopens a visit: its visitor's rows are counted by visitor, with the
    events of the open visit, and the stale row of the reopened visit is left out."""
    day = datetime(2025, 3, 5, 12, tzinfo=UTC)
    populate(
        store,
        [
            pageview(site_id=1, visitor_id=1, session_id=1, ts=day, pathname="/a"),
            pageview(site_id=1, visitor_id=1, session_id=2, ts=day + timedelta(hours=2)),
            pageview(site_id=1, visitor_id=2, session_id=3, ts=day, pathname="/a"),
        ],
    )
    store.roll_up(NOW)
    late_view = pageview(
        site_id=1, visitor_id=1, session_id=2, ts=day + timedelta(hours=2, minutes=5), pathname="/a"
    )
    populate(store, [late_view])
    body = {
        "site_id": "s",
        "metrics": ["visitors", "visits", "pageviews"],
        "dimensions": ["event:page"],
        "date_range": ["2025-03-05", "2025-03-05"],
    }
    result = run_query(store, parse_query(body), SITE, now=NOW)
    assert {row.dimensions[0]: row.metrics for row in result.rows} == {
        "/a": [2, 3, 3],
        "/": [1, 1, 1],
    }
    answers(store, monkeypatch)


def test_visitors_by_day_count_a_visit_across_midnight_in_both_days(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed visits inside one day count their visitor there unless an earlier visit of the
    same day did; a visit across local midnight is read from its events in both days."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 3, day, hour, minute, tzinfo=UTC)  # Berlin is UTC+1

    populate(
        store,
        [
            # Visitor 1: 23:50–00:10 in Berlin, then the next morning.
            pageview(site_id=1, visitor_id=1, session_id=1, ts=at(5, 22, 50)),
            pageview(site_id=1, visitor_id=1, session_id=1, ts=at(5, 23, 10)),
            pageview(site_id=1, visitor_id=1, session_id=2, ts=at(6, 10)),
            # Visitor 2: twice on the 6th, once on the 7th.
            pageview(site_id=1, visitor_id=2, session_id=3, ts=at(6, 9)),
            pageview(site_id=1, visitor_id=2, session_id=4, ts=at(6, 15)),
            pageview(site_id=1, visitor_id=2, session_id=5, ts=at(7, 9)),
        ],
    )
    store.roll_up(NOW)
    assert closed_visits(store) == 5
    body = {
        "site_id": "s",
        "metrics": ["visitors", "visits", "pageviews"],
        "dimensions": ["time:day"],
        "date_range": ["2025-03-05", "2025-03-07"],
    }
    result = run_query(store, parse_query(body), SITE, now=NOW)
    assert [(row.dimensions[0], row.metrics) for row in result.rows] == [
        ("2025-03-05", [1, 1, 1]),
        ("2025-03-06", [2, 4, 4]),
        ("2025-03-07", [1, 1, 1]),
    ]
    answers(store, monkeypatch)
    # The 7th comes from the rollup's row of visit 5: without it the day is empty.
    store.execute("DELETE FROM visits WHERE session_id = 5")
    result = run_query(store, parse_query(body), SITE, now=NOW)
    assert result.rows[-1].metrics == [0, 0, 0]


def test_a_rollup_of_an_older_layout_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rolled up by a release without the rows per value (or the links per visit
    attribute) drops its rollup on open; until the next roll-up every visit is read from
    events, then the rows are rebuilt."""
    path = tmp_path / "older.duckdb"
    store = DuckDBEventStore(path, visit_close_after=timedelta(minutes=35))
    populate(store, random_world(4, 1, 50))
    store.roll_up(NOW)
    expected = answers(store, monkeypatch)
    store.execute("DROP TABLE visit_pages")
    store.execute("ALTER TABLE visits DROP COLUMN prev_channel_ts")
    store.close()

    store = DuckDBEventStore(path, visit_close_after=timedelta(minutes=35))
    try:
        assert closed_visits(store) == 0
        assert rollup_watermark(store) == datetime(1970, 1, 1)
        assert answers(store, monkeypatch) == expected
        store.roll_up(NOW)
        assert closed_visits(store) > 0
        assert int(store.execute("SELECT count(*) FROM visit_pages")[0][0]) > 0
        assert answers(store, monkeypatch) == expected
    finally:
        store.close()


def sums(store: DuckDBEventStore, table: str = "visit_days") -> list[tuple[Any, ...]]:
    """A summary's rows folded per key, as a query would sum them."""
    return store.execute(
        f"SELECT site_id, value, pageviews, start_day, end_day, prev_day, sum(n), sum(ev), "
        f"sum(pv), sum(bounces), sum(dur) FROM {table} GROUP BY ALL HAVING sum(n) <> 0 "
        "ORDER BY ALL"
    )


def test_whole_days_are_read_from_the_day_sums(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a site asked for its sums, the next roll-up builds them and whole days read them:
    with every visit closed inside the period, the rollup's rows are no longer read, while a
    period cut mid-day still reads them."""
    populate(store, random_world(21, 1, 60))
    assert not store.summarised(SITE.id, SITE.timezone)
    store.roll_up(NOW)
    expected = answers(store, monkeypatch)
    body = {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}
    days = parse_query({"site_id": "s", **body, "date_range": "all"})
    # From an hour before the first event to NOW: the same visits, but not whole days.
    instant = DateRange("instant", start_at=START - timedelta(hours=1), end_at=NOW)
    hours = dataclasses.replace(days, date_range=instant)
    pages = parse_query(
        {"site_id": "s", "metrics": ["visitors"], "dimensions": ["event:page"], "date_range": "all"}
    )
    whole = run_query(store, days, SITE, now=NOW).rows
    cut = run_query(store, hours, SITE, now=NOW).rows
    by_page = run_query(store, pages, SITE, now=NOW).rows
    assert whole == cut and whole[0].metrics[1] > 0 and by_page

    store.execute("DELETE FROM visits")
    store.execute("DELETE FROM visit_pages")
    assert run_query(store, days, SITE, now=NOW).rows == whole
    assert run_query(store, pages, SITE, now=NOW).rows == by_page
    assert run_query(store, hours, SITE, now=NOW).rows[0].metrics[1] == 0
    assert expected


def test_a_site_asked_in_another_zone_is_summed_again(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days depend on the zone: a site whose zone changed is summed again by the next
    roll-up, and its answers in the new zone match those from the rows."""
    populate(store, random_world(8, 1, 80))
    store.summarised(SITE.id, SITE.timezone)
    store.roll_up(NOW)
    in_berlin = sums(store)
    assert in_berlin

    eastern = dataclasses.replace(SITE, timezone="America/New_York")
    assert not store.summarised(eastern.id, eastern.timezone)
    store.roll_up(NOW)
    assert store.summarised(eastern.id, eastern.timezone)
    assert store.execute("SELECT site_id, zone FROM rollup_zones") == [(1, "America/New_York")]
    assert sums(store) != in_berlin  # visits across Berlin's and New York's midnights differ
    monkeypatch.setattr("tests.integration.test_query_rollup.SITE", eastern)
    answers(store, monkeypatch)


def test_the_day_sums_log_is_compacted_once_it_doubles(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Roll-ups that relink visitors add negated and new sums; compaction folds them into
    one row per key and changes no answer."""
    monkeypatch.setattr("footfall.store.visit_days.COMPACT_SLACK", 0)
    rows = random_world(13, 1, 120)
    store.summarised(SITE.id, SITE.timezone)
    populate(store, rows[: len(rows) // 2])
    store.roll_up(START + timedelta(hours=20) + store.visit_close_after)
    compacted = store.execute("SELECT count(*) FROM visit_days")[0][0]
    folded = sums(store)
    populate(store, rows[len(rows) // 2 :])
    populate(store, late(rows, 5))
    store.roll_up(NOW)
    logged = store.execute("SELECT compacted FROM rollup_days_state WHERE summary = 'visit_days'")
    rows_now = store.execute("SELECT count(*) FROM visit_days")[0][0]
    assert sums(store) != folded
    # Folded: each key once, with no key whose rows cancel out.
    assert rows_now == len(sums(store)) == logged[0][0]
    assert rows_now > compacted
    answers(store, monkeypatch)


def test_day_sums_of_an_older_layout_are_dropped_and_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose sums have another layout keeps its rollup and drops its sums; the next
    roll-up after the site asks builds them again."""
    path = tmp_path / "older.duckdb"
    store = DuckDBEventStore(path, visit_close_after=timedelta(minutes=35))
    populate(store, random_world(4, 1, 50))
    store.summarised(SITE.id, SITE.timezone)
    store.roll_up(NOW)
    expected = sums(store, "visit_pages_days")
    store.execute("ALTER TABLE visit_pages_days DROP COLUMN dur")
    visits = closed_visits(store)
    store.close()

    store = DuckDBEventStore(path, visit_close_after=timedelta(minutes=35))
    try:
        assert closed_visits(store) == visits
        assert store.execute("SELECT count(*) FROM rollup_zones") == [(0,)]
        assert not store.summarised(SITE.id, SITE.timezone)
        store.roll_up(NOW)
        assert sums(store, "visit_pages_days") == expected
        answers(store, monkeypatch)
    finally:
        store.close()


def test_a_write_that_reopens_a_visit_renews_what_snapshots_remember(
    store: DuckDBEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries keep the time the open visits' events start from (`open_since`) until a write:
    an event that reopens a visit rolled up long ago moves it back, and its visit is then read
    whole from events."""
    first = pageview(site_id=1, visitor_id=7, session_id=70, ts=START, pathname="/a")
    populate(store, [first, pageview(site_id=1, visitor_id=8, session_id=80, ts=START)])
    store.roll_up(NOW)
    body = {"metrics": ["visits", "pageviews", "visit_duration"], "date_range": "all"}
    query = parse_query({"site_id": "s", **body})
    assert run_query(store, query, SITE, now=NOW).rows[0].metrics == [2, 2, 0]
    computed: list[int] = []
    real = store._remember

    def counting(key: Any, generation: int, compute: Any) -> Any:
        return real(key, generation, lambda: computed.append(generation) or compute())

    monkeypatch.setattr(store, "_remember", counting)
    run_query(store, query, SITE, now=NOW)
    assert computed == []  # kept from the first query: nothing was written since

    # Visit 70 goes on after the watermark: its row is stale, its events reach back to START.
    later = pageview(site_id=1, visitor_id=7, session_id=70, ts=NOW, pathname="/b")
    populate(store, [later])
    # A query of events alone reads no visit, so it does not look for the open visits.
    events = parse_query({"site_id": "s", "metrics": ["pageviews"], "date_range": "all"})
    assert run_query(store, events, SITE, now=NOW + timedelta(days=1)).rows[0].metrics == [3]
    assert computed == []
    reopened = run_query(store, query, SITE, now=NOW + timedelta(days=1)).rows[0].metrics
    assert len(computed) == 1
    duration = int((NOW - START).total_seconds())
    assert reopened == [2, 3, duration // 2]
    answers(store, monkeypatch)
