"""The SQL answers against an independent plain-Python reference, and DuckDB against ClickHouse.

The reference recomputes each metric from its definition (DESIGN.md section 2) over the same
random events: a visit's attributes are those of its first event, a bounce is a visit with one
pageview and no interactive event, a duration is last minus first second, engagement rows are
no events. Hypothesis draws the worlds; each draw lives under its own site id.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footfall.events import Event, Kind
from footfall.meta.sites import SiteInfo
from footfall.query import parse_query, run_query
from footfall.store import DuckDBEventStore, SessionStore
from tests.support.clickhouse import ClickHouseServer
from tests.support.factories import pageview, populate
from tests.support.stores import (
    clickhouse_server,
    drop_clickhouse_store,
    event_store,
    open_clickhouse_store,
)

__all__ = ["clickhouse_server", "event_store"]  # fixtures

START = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)  # Berlin's summer time starts in this window
NOW = datetime(2025, 4, 10, tzinfo=UTC)
DATES = ["2025-03-29", "2025-03-31"]
PAGES = ("/", "/a", "/b/c", "/thanks")
SOURCES = (
    ("Direct / None", "Direct"),
    ("Google", "Organic Search"),
    ("news.ycombinator.com", "Referral"),
)
COUNTRIES = ("DE", "FR", "US")
KINDS = (Kind.PAGEVIEW, Kind.PAGEVIEW, Kind.PAGEVIEW, Kind.EVENT, Kind.ENGAGEMENT, Kind.CONVERSION)
_site_ids = itertools.count(1000)


def random_world(seed: int, site_id: int, sessions: int) -> list[Event]:
    """Visits of up to five events, each second distinct within a visit (both stores order
    events by whole seconds the same way)."""
    rng = random.Random(seed)
    rows: list[Event] = []
    for session in range(1, sessions + 1):
        visitor = rng.randint(1, max(1, sessions // 2))
        start = START + timedelta(minutes=rng.randint(0, 60 * 40))
        source, channel = rng.choice(SOURCES)
        country = rng.choice(COUNTRIES)
        bot = rng.random() < 0.1
        seconds = sorted(rng.sample(range(0, 1500), rng.randint(1, 5)))
        for index, offset in enumerate(seconds):
            kind = Kind.PAGEVIEW if index == 0 else rng.choice(KINDS)
            name = {Kind.PAGEVIEW: "pageview", Kind.ENGAGEMENT: "engagement"}.get(kind, "Signup")
            rows.append(
                pageview(
                    site_id=site_id,
                    visitor_id=visitor,
                    session_id=session,
                    ts=start + timedelta(seconds=offset),
                    kind=kind.value,
                    name=name,
                    pathname=rng.choice(PAGES),
                    referrer_source=source if index == 0 else "Direct / None",
                    channel=channel if index == 0 else "Direct",
                    country=country,
                    is_bot=bot,
                    interactive=kind != Kind.ENGAGEMENT and rng.random() < 0.8,
                    engagement_ms=rng.randint(0, 20_000) if kind == Kind.ENGAGEMENT else 0,
                    revenue_amount=Decimal("2.50") if kind == Kind.CONVERSION else None,
                    revenue_currency="EUR" if kind == Kind.CONVERSION else "",
                )
            )
    return rows


def _round(value: Decimal, step: str) -> float:
    return float(value.quantize(Decimal(step), ROUND_HALF_UP))


def _ratio(top: int, bottom: int, scale: int, step: str) -> float:
    return _round(Decimal(top) * scale / Decimal(bottom), step) if bottom else 0.0


def reference(
    rows: list[Event], dimension: str | None, country: str | None
) -> dict[Any, list[Any]]:
    """visitors, visits, pageviews, events, bounce_rate, visit_duration, views_per_visit,
    conversion_rate (within the group), revenue: by the definitions, in plain Python."""
    humans = [row for row in rows if not row.is_bot]
    by_session: dict[int, list[Event]] = defaultdict(list)
    for row in humans:
        by_session[row.session_id].append(row)
    first = {sid: min(events, key=lambda e: e.ts) for sid, events in by_session.items()}
    groups: dict[Any, list[Event]] = defaultdict(list)
    for row in humans:
        if country is not None and row.country != country:
            continue
        key: Any = ()
        if dimension == "visit:source":
            key = (first[row.session_id].referrer_source,)
        elif dimension == "event:page":
            key = (row.pathname,)
        elif dimension == "visit:country":
            key = (row.country,)
        groups[key].append(row)
    answer: dict[Any, list[Any]] = {}
    for key, events in groups.items():
        counted = [e for e in events if e.kind != Kind.ENGAGEMENT]
        if not counted:
            continue
        visitors = {e.visitor_id for e in counted}
        visits = {e.session_id for e in counted}
        bounces = durations = 0
        for sid in visits:
            whole = by_session[sid]
            pages = sum(e.kind == Kind.PAGEVIEW for e in whole)
            interactive = any(
                e.kind in (Kind.EVENT, Kind.CONVERSION) and e.interactive for e in whole
            )
            bounces += pages == 1 and not interactive
            durations += int(max(e.ts for e in whole).timestamp()) - int(
                min(e.ts for e in whole).timestamp()
            )
        pageviews = sum(e.kind == Kind.PAGEVIEW for e in counted)
        converted = {e.visitor_id for e in counted if e.kind == Kind.CONVERSION}
        revenue = sum(
            (e.revenue_amount or Decimal(0) for e in counted if e.kind == Kind.CONVERSION),
            Decimal(0),
        )
        answer[key] = [
            len(visitors),
            len(visits),
            pageviews,
            len(counted),
            _ratio(bounces, len(visits), 100, "0.1"),
            int(_ratio(durations, len(visits), 1, "1")),
            _ratio(pageviews, len(visits), 1, "0.01"),
            _ratio(len(converted), len(visitors), 100, "0.01"),
            _round(revenue, "0.01"),
        ]
    return answer


METRICS = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
    "group_conversion_rate",
    "revenue",
]


# Without visit metrics the planner answers from one aggregation over events.
EVENT_METRICS = ["visitors", "pageviews", "events", "group_conversion_rate", "revenue"]


def engine_answer(
    store: SessionStore,
    site_id: int,
    dimension: str | None,
    country: str | None,
    metrics: list[str] = METRICS,
) -> dict[Any, list[Any]]:
    body: dict[str, Any] = {"site_id": "s", "metrics": metrics, "date_range": DATES}
    if dimension:
        body["dimensions"] = [dimension]
    if country:
        body["filters"] = [["is", "visit:country", [country]]]
    site = SiteInfo(site_id, "s", "Europe/Berlin", (), (), ())
    result = run_query(store, parse_query(body), site, now=NOW)
    return {
        tuple(row.dimensions): row.metrics
        for row in result.rows
        if row.metrics[0] or not dimension  # an empty world still has its one total row
    }


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32),
    sessions=st.integers(1, 25),
    dimension=st.sampled_from([None, "visit:source", "event:page", "visit:country"]),
    country=st.sampled_from([None, "DE"]),
)
def test_sql_matches_the_python_reference(
    event_store: SessionStore, seed: int, sessions: int, dimension: str | None, country: str | None
) -> None:
    site_id = next(_site_ids)
    rows = random_world(seed, site_id, sessions)
    populate(event_store, rows)
    expected = reference(rows, dimension, country)
    if not dimension and not expected:
        expected = {(): [0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0.0]}
    assert engine_answer(event_store, site_id, dimension, country) == expected
    picked = [METRICS.index(metric) for metric in EVENT_METRICS]
    events_only = {key: [values[i] for i in picked] for key, values in expected.items()}
    assert engine_answer(event_store, site_id, dimension, country, EVENT_METRICS) == events_only


def parity_queries() -> list[dict[str, Any]]:
    """Seventy-odd queries over every metric, dimension, filter kind and range option."""
    dims = [
        [],
        ["event:name"],
        ["event:page"],
        ["event:hostname"],
        ["visit:entry_page"],
        ["visit:exit_page"],
        ["visit:source"],
        ["visit:channel"],
        ["visit:country"],
        ["visit:device"],
        ["visit:browser"],
        ["visit:os"],
        ["time"],
        ["time:hour"],
        ["time:day"],
        ["time:week"],
        ["time:month"],
        ["visit:source", "event:page"],
        ["time:day", "visit:country"],
        ["event:props:plan"],
    ]
    metric_sets = [
        ["visitors", "visits", "pageviews", "events"],
        ["bounce_rate", "visit_duration", "views_per_visit", "time_on_page"],
        ["visitors", "conversion_rate", "group_conversion_rate", "revenue"],
    ]
    queries = []
    for dimension, metrics in itertools.product(dims, metric_sets):
        body: dict[str, Any] = {"metrics": metrics, "dimensions": dimension, "date_range": DATES}
        queries.append(body)
    filters = [
        ["is", "visit:country", ["DE", "FR"]],
        ["is_not", "event:page", ["/"]],
        ["contains", "event:page", ["b"]],
        ["contains_not", "visit:source", ["oo"], {"case_sensitive": False}],
        ["matches", "event:page", ["^/(a|thanks)$"]],
        ["matches_not", "event:page", ["c$"]],
        ["or", [["is", "visit:channel", ["Referral"]], ["not", ["is", "visit:country", ["US"]]]]],
    ]
    for item in filters:
        queries.append(
            {
                "metrics": ["visitors", "visits", "bounce_rate", "percentage"],
                "dimensions": ["visit:source"],
                "filters": [item],
                "date_range": DATES,
            }
        )
    queries.append(
        {
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["time:day"],
            "date_range": ["2025-03-30", "2025-03-31"],
            "include": {"comparisons": {"mode": "previous_period"}, "time_labels": True},
        }
    )
    queries.append(
        {
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["time:minute"],
            "date_range": ["2025-03-30", "2025-03-30"],
        }
    )
    # Counts of one page, location or device dimension, filtered by its own values and to
    # pageviews, and of one visit attribute by its own values: what the DuckDB store's linked
    # rollup rows answer.
    queries += [
        {
            "metrics": ["visitors", "visits", "pageviews", "events"],
            "dimensions": ["event:page"],
            "filters": [["is", "event:name", ["pageview"]]],
            "date_range": DATES,
        },
        {
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["event:page"],
            "filters": [["is", "event:name", ["pageview"]], ["contains_not", "event:page", ["b"]]],
            "date_range": DATES,
        },
        {
            "metrics": ["visitors", "visits"],
            "dimensions": ["visit:country"],
            "filters": [["is_not", "visit:country", ["DE"]]],
            "date_range": "all",
        },
        {
            "metrics": ["visitors", "percentage"],
            "dimensions": ["visit:browser"],
            "date_range": DATES,
        },
        {
            "metrics": ["visitors", "visits", "events"],
            "dimensions": ["visit:entry_page"],
            "filters": [["is_not", "visit:entry_page", ["/"]]],
            "date_range": DATES,
        },
    ]
    queries.append(
        {
            "metrics": ["pageviews"],
            "dimensions": ["event:page"],
            "order_by": [["pageviews", "asc"]],
            "pagination": {"limit": 2, "offset": 1},
            "include": {"total_rows": True},
            "date_range": "all",
        }
    )
    return queries


@pytest.fixture
def both_stores(
    tmp_path: Path, clickhouse_server: ClickHouseServer
) -> Iterator[list[SessionStore]]:
    duck = DuckDBEventStore(tmp_path / "events.duckdb")
    click = open_clickhouse_store(clickhouse_server)
    try:
        yield [duck, click]
    finally:
        duck.close()
        drop_clickhouse_store(click)


def test_duckdb_and_clickhouse_give_identical_answers(both_stores: list[SessionStore]) -> None:
    rows = random_world(7, 1, 120)
    rows = [
        row if row.kind != Kind.EVENT else _with_plan(row, index) for index, row in enumerate(rows)
    ]
    for store in both_stores:
        populate(store, rows)
    site = SiteInfo(1, "s", "Europe/Berlin", (), (), ())
    queries = parity_queries()
    assert len(queries) >= 50
    for body in queries:
        query = parse_query({"site_id": "s", **body})
        duck, click = (run_query(store, query, site, now=NOW).to_json() for store in both_stores)
        assert duck == click, body
        assert duck["results"], body


def _with_plan(row: Event, index: int) -> Event:
    plan = ("free", "pro", "team")[index % 3]
    return msgspec.structs.replace(row, props_keys=["plan"], props_values=[plan])


def test_days_follow_the_site_zone_across_dst(event_store: SessionStore) -> None:
    # 21:59 and 22:00 UTC on 30 March are 23:59 and 00:00 in Berlin (summer time since 02:00).
    populate(
        event_store,
        [
            pageview(visitor_id=1, session_id=1, ts=datetime(2025, 3, 30, 21, 59, tzinfo=UTC)),
            pageview(visitor_id=2, session_id=2, ts=datetime(2025, 3, 30, 22, 0, tzinfo=UTC)),
            pageview(visitor_id=3, session_id=3, ts=datetime(2025, 3, 29, 23, 30, tzinfo=UTC)),
        ],
    )
    site = SiteInfo(1, "s", "Europe/Berlin", (), (), ())
    body = {
        "site_id": "s",
        "metrics": ["visitors"],
        "dimensions": ["time:day"],
        "date_range": DATES,
    }
    result = run_query(event_store, parse_query(body), site, now=NOW)
    assert {row.dimensions[0]: row.metrics[0] for row in result.rows} == {
        "2025-03-29": 0,
        "2025-03-30": 2,
        "2025-03-31": 1,
    }
    hours = {**body, "dimensions": ["time:hour"], "date_range": ["2025-03-30", "2025-03-30"]}
    by_hour = run_query(event_store, parse_query(hours), site, now=NOW)
    labels = [row.dimensions[0] for row in by_hour.rows]
    assert len(labels) == 23 and "2025-03-30 02:00:00" not in labels
    counts = {row.dimensions[0]: row.metrics[0] for row in by_hour.rows}
    assert counts["2025-03-30 00:00:00"] == 1
    assert labels[0] == "2025-03-30 00:00:00" and labels[-1] == "2025-03-30 23:00:00"
