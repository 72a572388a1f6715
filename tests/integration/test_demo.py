"""`footfall demo`: exact counts, valid and realistic rows, reproducible seeds, a locked store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner, Result

from footfall.cli import app
from footfall.enrich.channels import channel_for, source_for
from footfall.enrich.referrers import classify_referrer
from footfall.enrich.utm import Campaign
from footfall.events import EVENT_COLUMNS
from footfall.meta.db import make_engine, session_scope
from footfall.meta.sites import get_site
from footfall.store import DuckDBEventStore
from footfall.store.demo import DemoSpec, generate_into_duckdb, generate_into_store, generator

EVENTS = 20_000
DAYS = 14
CHANNELS = {
    "Direct",
    "Organic Search",
    "Paid Search",
    "Organic Social",
    "Paid Social",
    "Email",
    "Referral",
}
DEVICES_BY_OS = {
    "Windows": {"Desktop"},
    "macOS": {"Desktop"},
    "Linux": {"Desktop"},
    "iOS": {"Mobile"},
    "iPadOS": {"Tablet"},
    "Android": {"Mobile", "Tablet"},
}
BROWSERS = {"Chrome", "Safari", "Firefox", "Edge", "Samsung Internet", "Opera"}
KINDS = {"pageview", "event", "conversion", "engagement"}
NULLABLE = {"user_id", "revenue_amount"}
END = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def clean_env() -> dict[str, str | None]:
    """An environment without the caller's FOOTFALL_* settings."""
    return {name: None for name in os.environ if name.startswith("FOOTFALL_")}


def run_demo(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "demo", *args], env=clean_env())


@dataclass
class DemoRun:
    data_dir: Path
    result: Result
    started: datetime
    finished: datetime
    con: duckdb.DuckDBPyConnection

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params).fetchall()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.rows(sql, params)[0][0]

    def violations(self, condition: str) -> int:
        """How many events match `condition` (each check below expects none)."""
        return int(self.value(f"SELECT count(*) FROM events WHERE {condition}"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """One CLI run of 20k events over 14 days, opened read-only for the checks below."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    started = datetime.now(UTC)
    result = run_demo(data_dir, "--events", str(EVENTS), "--days", str(DAYS), "--seed", "42")
    finished = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    try:
        yield DemoRun(data_dir, result, started, finished, con)
    finally:
        con.close()


def test_cli_creates_the_site_and_stores_exactly_n_events(demo_run: DemoRun) -> None:
    engine = make_engine(f"sqlite:///{demo_run.data_dir / 'footfall.sqlite3'}")
    try:
        with session_scope(engine) as session:
            site = get_site(session, "demo.localhost")
            assert site is not None
            site_id = site.id
    finally:
        engine.dispose()
    assert demo_run.value("SELECT count(*) FROM events") == EVENTS
    assert demo_run.rows("SELECT DISTINCT site_id, hostname FROM events") == [
        (site_id, "demo.localhost")
    ]
    assert f"{EVENTS:,} events" in demo_run.result.output
    assert "events/s" in demo_run.result.output


def test_the_demo_site_is_rolled_up_and_summed_by_day(demo_run: DemoRun) -> None:
    """The dashboard is quick from the start: the visits are rolled up and summed per day in
    the site's zone."""
    site_id = demo_run.value("SELECT DISTINCT site_id FROM events")
    assert demo_run.rows("SELECT site_id, zone FROM rollup_zones") == [(site_id, "UTC")]
    rolled_up = demo_run.value("SELECT count(*) FROM visits WHERE ev > 0")
    assert rolled_up > 0
    assert demo_run.value("SELECT sum(n) FROM visit_days") == rolled_up


def test_every_event_lies_in_the_requested_range(demo_run: DemoRun) -> None:
    first, last = demo_run.rows("SELECT min(ts), max(ts) FROM events")[0]
    earliest = (demo_run.started - timedelta(days=DAYS)).replace(tzinfo=None)
    assert earliest <= first
    assert last <= demo_run.finished.replace(tzinfo=None)
    # Spread over the whole range, not bunched at one end.
    assert first - earliest < timedelta(hours=6)
    assert demo_run.finished.replace(tzinfo=None) - last < timedelta(hours=6)


def test_every_column_holds_a_valid_value(demo_run: DemoRun) -> None:
    for column in EVENT_COLUMNS:
        if column not in NULLABLE:
            nulls = demo_run.value(f"SELECT count(*) FROM events WHERE {column} IS NULL")
            assert nulls == 0, column
    assert {row[0] for row in demo_run.rows("SELECT DISTINCT channel FROM events")} == CHANNELS
    assert {row[0] for row in demo_run.rows("SELECT DISTINCT kind FROM events")} == KINDS
    assert {row[0] for row in demo_run.rows("SELECT DISTINCT browser FROM events")} <= BROWSERS
    for os_name, device in demo_run.rows("SELECT DISTINCT os, device FROM events"):
        assert device in DEVICES_BY_OS[os_name], (os_name, device)
    assert not demo_run.violations(
        "NOT regexp_full_match(country, '[A-Z]{2}')"
        " OR region = '' OR city = '' OR screen_width <= 0 OR browser_version = ''"
        " OR NOT starts_with(pathname, '/') OR visitor_id = 0 OR session_id = 0"
        " OR octet_length(event_id) <> 16 OR is_bot OR user_id IS NOT NULL"
    )
    assert not demo_run.violations(
        "(channel = 'Direct') <> (referrer_source = 'Direct / None')"
        " OR (channel = 'Direct' AND referrer <> '')"
        " OR (channel IN ('Paid Search', 'Paid Social', 'Email') AND utm_medium = '')"
    )
    assert demo_run.value("SELECT count(DISTINCT pathname) FROM events") >= 50


def test_event_ids_are_unique(demo_run: DemoRun) -> None:
    assert demo_run.value("SELECT count(DISTINCT event_id) FROM events") == EVENTS


def test_sources_read_as_the_pipeline_reads_real_referrers(demo_run: DemoRun) -> None:
    sources = demo_run.rows(
        "SELECT DISTINCT referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term,"
        " referrer_source, channel FROM events"
    )
    assert len(sources) > 15
    for referrer, *tags, source, channel in sources:
        campaign = Campaign(*tags)
        info = classify_referrer(referrer) if referrer else None
        assert (source, channel) == (source_for(info, campaign), channel_for(info, campaign, False))
    names = {row[6] for row in sources}
    assert {"Google", "Bing", "DuckDuckGo", "Facebook", "LinkedIn", "Reddit"} <= names
    assert {"Hacker News", "GitHub", "ChatGPT", "newsletter", "Direct / None"} <= names


def test_visits_look_like_real_traffic(demo_run: DemoRun) -> None:
    bounce_rate, views_per_visit, visits, max_gap_ms = demo_run.rows(
        """
        WITH ordered AS (
            SELECT session_id, kind, interactive,
                   epoch_ms(ts) - lag(epoch_ms(ts)) OVER (PARTITION BY session_id ORDER BY ts)
                       AS gap_ms
            FROM events
        )
        SELECT avg((pageviews = 1 AND interactive_events = 0)::INTEGER), avg(pageviews),
               count(*), max(max_gap_ms)
        FROM (SELECT session_id, count(*) FILTER (kind = 'pageview') AS pageviews,
                     count(*) FILTER (kind <> 'pageview' AND interactive) AS interactive_events,
                     max(gap_ms) AS max_gap_ms
              FROM ordered GROUP BY session_id)
        """
    )[0]
    assert 0.30 <= bounce_rate <= 0.70
    assert 1.5 <= views_per_visit <= 4.0
    assert max_gap_ms < 30 * 60 * 1000  # a visit never has a 30-minute pause in it
    visitors = demo_run.value("SELECT count(DISTINCT visitor_id) FROM events")
    assert visits * 0.5 < visitors < visits  # returning visitors, but most come once
    assert f"{visitors:,} visitors" in demo_run.result.output
    assert f"{visits:,} visits" in demo_run.result.output
    # Every visit opens with a pageview.
    assert not demo_run.value(
        "SELECT count(*) FROM (SELECT arg_min(kind, ts) AS first_kind FROM events"
        " GROUP BY session_id) WHERE first_kind <> 'pageview'"
    )


def test_each_session_belongs_to_one_visitor(demo_run: DemoRun) -> None:
    assert not demo_run.value(
        "SELECT count(*) FROM (SELECT session_id FROM events GROUP BY session_id"
        " HAVING count(DISTINCT visitor_id) > 1)"
    )
    # Returning visitors keep their device and place from visit to visit.
    assert not demo_run.value(
        "SELECT count(*) FROM (SELECT visitor_id FROM events GROUP BY visitor_id"
        " HAVING count(DISTINCT (country, city, os, browser, screen_width)) > 1)"
    )


def test_conversions_carry_revenue_and_custom_events_their_props(demo_run: DemoRun) -> None:
    conversions = demo_run.rows(
        "SELECT name, revenue_amount, revenue_currency, props_keys FROM events"
        " WHERE kind = 'conversion'"
    )
    assert conversions
    for name, amount, currency, keys in conversions:
        assert name == "Purchase"
        assert amount is not None and amount > 0
        assert currency in {"EUR", "USD"}
        assert keys == ["plan"]
    assert not demo_run.violations(
        "kind <> 'conversion' AND (revenue_amount IS NOT NULL OR revenue_currency <> '')"
    )
    names = dict(demo_run.rows("SELECT name, count(*) FROM events GROUP BY name"))
    assert {"Signup", "Outbound Link: Click", "File Download"} <= set(names)
    # Goals happen on their pages, a purchase after the cart.
    assert not demo_run.violations(
        "(name = 'Signup' AND pathname <> '/signup')"
        " OR (name = 'Purchase' AND pathname <> '/checkout/complete')"
    )
    assert not demo_run.value(
        "SELECT count(*) FROM events AS purchase WHERE name = 'Purchase' AND NOT EXISTS ("
        " SELECT 1 FROM events AS cart WHERE cart.session_id = purchase.session_id"
        " AND cart.kind = 'pageview' AND cart.pathname = '/checkout' AND cart.ts < purchase.ts)"
    )
    assert not demo_run.violations(
        "name IN ('Outbound Link: Click', 'File Download')"
        " AND NOT (props_keys = ['url'] AND starts_with(props_values[1], 'https://'))"
    )
    assert not demo_run.violations(
        "kind = 'engagement' AND (interactive"
        " OR scroll_depth NOT BETWEEN 1 AND 100 OR engagement_ms <= 0)"
    )
    assert not demo_run.violations(
        "kind <> 'engagement' AND (scroll_depth <> 0 OR engagement_ms <> 0)"
    )


def test_traffic_follows_the_day_and_the_week(demo_run: DemoRun) -> None:
    # German visitors, in German time (UTC+1): nights are quiet, afternoons busy.
    by_local_hour = dict(
        demo_run.rows(
            "SELECT hour(ts + INTERVAL 1 HOUR) AS h, count(*) FROM events"
            " WHERE country = 'DE' AND kind = 'pageview' GROUP BY h"
        )
    )
    night = sum(by_local_hour.get(h, 0) for h in (2, 3, 4))
    afternoon = sum(by_local_hour.get(h, 0) for h in (13, 14, 15))
    assert night * 3 < afternoon
    weekday, weekend = demo_run.rows(
        "SELECT avg(n) FILTER (NOT weekend), avg(n) FILTER (weekend) FROM ("
        " SELECT ts::DATE AS day, isodow(ts) >= 6 AS weekend, count(*) AS n FROM events"
        " WHERE ts >= ? AND ts < ? GROUP BY ALL)",
        [
            (demo_run.started - timedelta(days=DAYS - 1)).date(),
            demo_run.started.date(),
        ],
    )[0]
    assert weekend < weekday * 0.85


def generate(
    path: Path, seed: int, *, end: datetime = END, chunk_events: int = 250_000
) -> tuple[Any, list[int]]:
    """Traffic of one run as (visits, visitors, aggregates without time), and its chunk sizes."""
    chunks: list[int] = []
    spec = DemoSpec(
        site_id=7,
        hostname="example.com",
        events=EVENTS,
        days=DAYS,
        seed=seed,
        end=end,
        chunk_events=chunk_events,
    )
    DuckDBEventStore(path).close()  # creates the schema
    with duckdb.connect(str(path)) as con:
        summary = generate_into_duckdb(con, spec, chunks.append)
        aggregates = con.execute(
            "SELECT channel, country, browser, pathname, kind, count(*),"
            " count(DISTINCT visitor_id), count(DISTINCT session_id), sum(revenue_amount)"
            " FROM events GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        leftovers = con.execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, 'demo_'))"
            " + (SELECT count(*) FROM duckdb_functions()"
            " WHERE starts_with(function_name, 'demo_'))"
        ).fetchone()
    assert leftovers == (0,)  # the generator's temporary tables and macros are gone
    return (summary.visits, summary.visitors, aggregates), chunks


def test_the_same_seed_gives_the_same_traffic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second, _ = generate(tmp_path / "b.duckdb", seed=5)
    later, _ = generate(tmp_path / "later.duckdb", seed=5, end=END + timedelta(days=3, hours=5))
    other, _ = generate(tmp_path / "c.duckdb", seed=6)
    # Small plan blocks and chunks: both boundaries fall inside runs of visits.
    monkeypatch.setattr(generator, "PLAN_BLOCK_VISITS", 1_000)
    first, chunks = generate(tmp_path / "a.duckdb", seed=5, chunk_events=3_000)
    assert first == second == later
    assert first != other
    # Chunked generation writes exactly N rows in total, reported chunk by chunk.
    assert len(chunks) > 5
    assert sum(chunks) == EVENTS


def test_the_same_seed_and_end_give_the_same_rows(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.duckdb"
        generate(path, seed=11)
        with duckdb.connect(str(path)) as con:
            digests.append(
                con.execute("SELECT count(*), sum(hash(COLUMNS(*))) FROM events").fetchall()
            )
    assert digests[0] == digests[1]


def test_a_second_run_repeats_no_id(tmp_path: Path) -> None:
    path = tmp_path / "twice.duckdb"
    DuckDBEventStore(path).close()
    visits = 0
    with duckdb.connect(str(path)) as con:
        for end in (END, END + timedelta(minutes=5)):
            spec = DemoSpec(site_id=1, hostname="example.com", events=2_000, seed=9, end=end)
            visits += generate_into_duckdb(con, spec).visits
        counts = con.execute(
            "SELECT count(*), count(DISTINCT event_id), count(DISTINCT session_id) FROM events"
        ).fetchone()
    assert counts == (4_000, 4_000, visits)


def test_other_stores_receive_the_rows_through_insert(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        spec = DemoSpec(site_id=3, hostname="shop.example", events=5_000, days=3, seed=1, end=END)
        summary = generate_into_store(store, spec)
        count, sessions, first, last = store.execute(
            "SELECT count(*), count(DISTINCT session_id), min(ts), max(ts) FROM events"
            " WHERE site_id = 3"
        )[0]
    finally:
        store.close()
    assert count == 5_000
    assert sessions == summary.visits
    assert END.replace(tzinfo=None) - timedelta(days=3) <= first <= last
    assert last <= END.replace(tzinfo=None)


def test_a_single_event_is_one_pageview(tmp_path: Path) -> None:
    DuckDBEventStore(tmp_path / "one.duckdb").close()
    spec = DemoSpec(site_id=1, hostname="example.com", events=1, days=1, seed=3, end=END)
    with duckdb.connect(str(tmp_path / "one.duckdb")) as con:
        summary = generate_into_duckdb(con, spec)
        rows = con.execute("SELECT kind FROM events").fetchall()
    assert rows == [("pageview",)]
    assert (summary.events, summary.visits, summary.visitors) == (1, 1, 1)


def test_a_locked_store_is_reported_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " sys.stdin.read()",
            str(data_dir / "events.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        result = run_demo(data_dir, "--events", "100")
    finally:
        holder.communicate("", timeout=30)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert "stop the server first" in result.stderr
    assert "--data-dir" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output


def test_the_demo_visits_are_rolled_up(demo_run: DemoRun) -> None:
    """The dashboard reads the demo's closed visits from the rollup from the start."""
    watermark = demo_run.value("SELECT watermark FROM visits_watermark")
    assert watermark > (demo_run.started - timedelta(hours=1)).replace(tzinfo=None)
    closed = demo_run.value(
        "SELECT count(*) FROM (SELECT session_id FROM events WHERE NOT is_bot "
        "GROUP BY session_id HAVING max(ts) < ?)",
        [watermark],
    )
    assert closed > 0
    assert demo_run.value("SELECT count(*) FROM visits") == closed
