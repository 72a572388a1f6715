"""The two event stores keep the same rows and answer the same questions with equal results.

Every test runs on DuckDB and on ClickHouse (the `event_store` fixture). Aggregate queries are
written once per dialect, as the query engine renders them, and must give identical answers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from footfall.events import EVENT_COLUMNS, Event, Kind
from footfall.store import SessionStore
from tests.support import factories
from tests.support.stores import clickhouse_server, event_store, stored_events

__all__ = ["clickhouse_server", "event_store"]  # fixtures

START = datetime(2025, 3, 29, 22, 30, tzinfo=UTC)  # Europe/Berlin switches to summer time next


def every_field_event(**overrides: Any) -> Event:
    """A row with a non-default value in every column (unicode, quotes, milliseconds...)."""
    fields: dict[str, Any] = {
        "event_id": bytes(range(16)),
        "ts": datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC),
        "site_id": 2**32 - 1,
        "name": "Signup 'quoted' \\ back",
        "kind": Kind.CONVERSION.value,
        "visitor_id": 2**64 - 1,
        "session_id": 2**63 + 5,
        "user_id": "user-\u00e9\u00e8-42",
        "hostname": "shop.example.org",
        "pathname": "/caf\u00e9/\u00fcber?",
        "referrer": "https://news.example.net/a%20b",
        "referrer_source": "Hacker News",
        "channel": "Referral",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring\ttab",
        "utm_content": "hero\nline",
        "utm_term": "\u65e5\u672c",
        "country": "JP",
        "region": "JP-13",
        "city": "T\u014dky\u014d",
        "browser": "Firefox",
        "browser_version": "133.0",
        "os": "macOS",
        "os_version": "15.1",
        "device": "Tablet",
        "screen_width": -1,
        "props_keys": ["plan", "", "emoji \U0001f600"],
        "props_values": ["pro", "empty key", "\u2713"],
        "revenue_amount": Decimal("-12345678901234.5678"),
        "revenue_currency": "EUR",
        "link_id": 2**64 - 2,
        "campaign_id": 77,
        "recipient": "r\u00e9cipient@example.com",
        "platform": "ios",
        "is_bot": True,
        "interactive": False,
        "scroll_depth": 100,
        "engagement_ms": 2**40,
        "batch_id": 2**64 - 3,
    }
    fields.update(overrides)
    return Event(**fields)


def by_time(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda event: (event.ts, event.event_id))


def test_every_column_round_trips_exactly(event_store: SessionStore) -> None:
    rows = [
        every_field_event(),
        every_field_event(event_id=b"\x00" * 15 + b"\x01", user_id=None, revenue_amount=None),
        factories.pageview(ts=datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        factories.pageview(ts=datetime(2105, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ]
    assert set(msgspec.structs.asdict(rows[0])) == set(EVENT_COLUMNS)
    assert event_store.insert(rows) == len(rows)
    assert stored_events(event_store) == by_time(rows)


def test_a_row_the_store_cannot_take_is_skipped_and_logged(
    event_store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = [factories.pageview(), factories.pageview(pathname="/two")]
    bad = factories.pageview(visitor_id=2**64)
    with caplog.at_level(logging.ERROR):
        assert event_store.insert([good[0], bad, good[1]]) == 2
    assert stored_events(event_store) == by_time(good)
    assert bad.event_id.hex() in caplog.text


def test_dedupe_never_stores_a_batch_twice(event_store: SessionStore) -> None:
    batch = [
        msgspec.structs.replace(row, batch_id=41)
        for row in factories.visit(9, START, pages=["/", "/a", "/b"])
    ]
    assert event_store.insert(batch, batch_id=41) == 3
    assert event_store.insert(batch, batch_id=41, dedupe=True) == 0
    newer = factories.pageview(ts=START + timedelta(hours=2), batch_id=42)
    assert event_store.insert([*batch[:2], newer], batch_id=42, dedupe=True) == 1
    assert stored_events(event_store) == by_time([*batch, newer])


def test_dedupe_looks_only_at_event_ids(event_store: SessionStore) -> None:
    first = factories.pageview(ts=START)
    same_time_other_id = factories.pageview(ts=START)
    event_store.insert([first])
    assert event_store.insert([same_time_other_id, first], dedupe=True) == 1
    assert len(stored_events(event_store)) == 2


def test_recent_sessions_list_open_visits(event_store: SessionStore) -> None:
    old = factories.visit(1, START - timedelta(hours=3), pages=["/"])
    recent = factories.visit(2, START, pages=["/", "/b"], page_gap=90.5, site_id=3)
    factories.populate(event_store, [*old, *recent])
    last = recent[-1]
    expected = [(3, 2, last.session_id, int(last.ts.timestamp() * 1000))]
    assert event_store.recent_sessions(START - timedelta(minutes=30)) == expected
    naive = (START - timedelta(minutes=30)).replace(tzinfo=None)
    assert event_store.recent_sessions(naive) == expected


def test_a_hundred_thousand_rows_go_in_and_come_back(event_store: SessionStore) -> None:
    base = factories.pageview(ts=START)
    replace = msgspec.structs.replace
    rows = [
        replace(
            base,
            event_id=index.to_bytes(16, "big"),
            ts=START + timedelta(milliseconds=index * 37),
            visitor_id=index % 997,
            session_id=index % 997 + 1,
            pathname=f"/p/{index % 50}",
        )
        for index in range(100_000)
    ]
    assert event_store.insert(rows) == 100_000
    sql = {
        "duckdb": "SELECT count(*), count(DISTINCT visitor_id), sum(screen_width) FROM events",
        "clickhouse": "SELECT count(), uniqExact(visitor_id), sum(screen_width) FROM events",
    }[event_store.dialect_name]
    assert event_store.execute(sql) == [(100_000, 997, 1920 * 100_000)]
    stored = stored_events(event_store)
    assert stored[0] == rows[0]
    assert stored[-1] == rows[-1]
    assert [row.event_id for row in stored] == [row.event_id for row in rows]


def world() -> list[Event]:
    """Four visits on site 1 (and one on site 2 that no answer may include) around Berlin's
    switch to summer time (2025-03-30 01:00 UTC)."""
    return [
        *factories.visit(
            1,
            START,
            pages=["/", "/pricing", "/signup"],
            events=[factories.conversion("Purchase", "19.99", "EUR")],
            referrer="https://www.google.com/",
            referrer_source="Google",
            channel="Organic Search",
            country="DE",
        ),
        *factories.visit(
            2,
            START + timedelta(hours=2, milliseconds=250),
            pages=["/blog/a"],
            utm_source="newsletter",
            utm_medium="email",
            channel="Email",
            referrer_source="newsletter",
            country="FR",
        ),
        *factories.visit(
            3,
            START + timedelta(hours=3),
            pages=[("/", 0.0), ("/pricing", 0.4)],
            events=[
                (0.2, factories.custom_event("Signup", props_keys=["plan"], props_values=["pro"])),
                factories.conversion("Purchase", "5.0001", "usd"),
            ],
            device="Mobile",
        ),
        *factories.visit(
            1,
            START + timedelta(days=1),
            pages=["/docs"],
            events=[factories.engagement(scroll_depth=80, engagement_ms=42_000)],
            country="DE",
        ),
        *factories.visit(4, START, pages=["/elsewhere"], site_id=2),
    ]


# Each query: its DuckDB and ClickHouse spellings (parameters in each store's own style).
QUERIES: dict[str, tuple[str, str]] = {
    "visitors_and_pageviews_per_local_day": (
        "SELECT CAST(timezone('Europe/Berlin', ts::TIMESTAMPTZ) AS DATE) AS day, "
        "count(DISTINCT visitor_id), count(*) FILTER (WHERE kind = 'pageview') "
        "FROM events WHERE site_id = ? GROUP BY day ORDER BY day",
        "SELECT toDate(ts, 'Europe/Berlin') AS day, uniqExact(visitor_id), "
        "countIf(kind = 'pageview') FROM events WHERE site_id = %(site)s "
        "GROUP BY day ORDER BY day",
    ),
    "pageviews_per_local_hour": (
        "SELECT date_trunc('hour', timezone('Europe/Berlin', ts::TIMESTAMPTZ)) AS hour, "
        "count(*) FROM events WHERE site_id = ? AND kind = 'pageview' "
        "GROUP BY hour ORDER BY hour",
        "SELECT toStartOfHour(ts, 'Europe/Berlin') AS hour, count() FROM events "
        "WHERE site_id = %(site)s AND kind = 'pageview' GROUP BY hour ORDER BY hour",
    ),
    "visits_bounces_and_duration": (
        "SELECT count(*), sum(CASE WHEN pageviews = 1 AND interactive_events = 0 THEN 1 ELSE 0 "
        "END), sum(duration_ms) FROM (SELECT session_id, "
        "count(*) FILTER (WHERE kind = 'pageview') AS pageviews, "
        "count(*) FILTER (WHERE kind <> 'pageview' AND interactive) AS interactive_events, "
        "epoch_ms(max(ts)) - epoch_ms(min(ts)) AS duration_ms "
        "FROM events WHERE site_id = ? GROUP BY session_id)",
        "SELECT count(), sum(pageviews = 1 AND interactive_events = 0), sum(duration_ms) "
        "FROM (SELECT session_id, countIf(kind = 'pageview') AS pageviews, "
        "countIf(kind != 'pageview' AND interactive = 1) AS interactive_events, "
        "max(ts_epoch_ms) - min(ts_epoch_ms) AS duration_ms "
        "FROM events WHERE site_id = %(site)s GROUP BY session_id)",
    ),
    "entry_pages_with_sources": (
        "SELECT entry, source, count(*) FROM (SELECT arg_min(pathname, ts) AS entry, "
        "arg_min(referrer_source, ts) AS source FROM events WHERE site_id = ? "
        "AND kind = 'pageview' GROUP BY session_id) GROUP BY entry, source ORDER BY entry, source",
        "SELECT entry, source, count() FROM (SELECT argMin(pathname, ts_epoch_ms) AS entry, "
        "argMin(referrer_source, ts_epoch_ms) AS source FROM events WHERE site_id = %(site)s "
        "AND kind = 'pageview' GROUP BY session_id) GROUP BY entry, source ORDER BY entry, source",
    ),
    "revenue_by_currency": (
        "SELECT revenue_currency, sum(revenue_amount), count(*) FROM events "
        "WHERE site_id = ? AND revenue_amount IS NOT NULL "
        "GROUP BY revenue_currency ORDER BY revenue_currency",
        "SELECT revenue_currency, sum(revenue_amount), count() FROM events "
        "WHERE site_id = %(site)s AND revenue_amount IS NOT NULL "
        "GROUP BY revenue_currency ORDER BY revenue_currency",
    ),
    "property_breakdown": (
        "SELECT props_values[list_position(props_keys, 'plan')] AS plan, count(*) FROM events "
        "WHERE site_id = ? AND list_contains(props_keys, 'plan') GROUP BY plan ORDER BY plan",
        "SELECT props_values[indexOf(props_keys, 'plan')] AS plan, count() FROM events "
        "WHERE site_id = %(site)s AND has(props_keys, 'plan') GROUP BY plan ORDER BY plan",
    ),
    "exit_pages_by_country": (
        "SELECT country, exit, count(*) FROM (SELECT any_value(country) AS country, "
        "arg_max(pathname, ts) AS exit FROM events WHERE site_id = ? AND kind = 'pageview' "
        "GROUP BY session_id) GROUP BY country, exit ORDER BY country, exit",
        "SELECT country, exit, count() FROM (SELECT any(country) AS country, "
        "argMax(pathname, ts_epoch_ms) AS exit FROM events WHERE site_id = %(site)s "
        "AND kind = 'pageview' GROUP BY session_id) GROUP BY country, exit "
        "ORDER BY country, exit",
    ),
    "engagement_and_scroll": (
        "SELECT pathname, sum(engagement_ms), max(scroll_depth) FROM events "
        "WHERE site_id = ? AND kind = 'engagement' GROUP BY pathname ORDER BY pathname",
        "SELECT pathname, sum(engagement_ms), max(scroll_depth) FROM events "
        "WHERE site_id = %(site)s AND kind = 'engagement' GROUP BY pathname ORDER BY pathname",
    ),
}

# What the world's site 1 gives, worked out by hand.
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "visitors_and_pageviews_per_local_day": [
        (datetime(2025, 3, 29).date(), 1, 3),  # 23:30 CET: visit 1
        (datetime(2025, 3, 30).date(), 2, 3),  # visits 2 (01:30 CET) and 3 (03:30 CEST)
        (datetime(2025, 3, 31).date(), 1, 1),  # visitor 1 again, next evening
    ],
    "pageviews_per_local_hour": [
        (datetime(2025, 3, 29, 23), 3),
        (datetime(2025, 3, 30, 1), 1),
        (datetime(2025, 3, 30, 3), 2),
        (datetime(2025, 3, 31, 0), 1),
    ],
    # Bounces: visit 2 (one pageview) and visit 4 (its engagement event is not interactive).
    "visits_bounces_and_duration": [(4, 2, 121_000 + 0 + 2_400 + 1_000)],
    "entry_pages_with_sources": [
        ("/", "Direct / None", 1),
        ("/", "Google", 1),
        ("/blog/a", "newsletter", 1),
        ("/docs", "Direct / None", 1),
    ],
    "revenue_by_currency": [("EUR", Decimal("19.99"), 1), ("USD", Decimal("5.0001"), 1)],
    "property_breakdown": [("pro", 1)],
    "exit_pages_by_country": [
        ("DE", "/docs", 1),
        ("DE", "/signup", 1),
        ("FR", "/blog/a", 1),
        ("US", "/pricing", 1),
    ],
    "engagement_and_scroll": [("/docs", 42_000, 80)],
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_both_dialects_give_the_same_answers(event_store: SessionStore, name: str) -> None:
    factories.populate(event_store, world())
    duckdb_sql, clickhouse_sql = QUERIES[name]
    if event_store.dialect_name == "duckdb":
        rows = event_store.execute(duckdb_sql, [1])
    else:
        rows = event_store.execute(clickhouse_sql, {"site": 1})
    assert rows == EXPECTED[name]


def test_bound_values_stay_values(event_store: SessionStore) -> None:
    hostile = "x' OR 1=1 --\\'; DROP TABLE events; \u00e9"
    factories.populate(event_store, [factories.pageview(pathname=hostile), factories.pageview()])
    if event_store.dialect_name == "duckdb":
        rows = event_store.execute("SELECT count(*) FROM events WHERE pathname = ?", [hostile])
    else:
        rows = event_store.execute(
            "SELECT count() FROM events WHERE pathname = %(path)s", {"path": hostile}
        )
    assert rows == [(1,)]
    assert len(stored_events(event_store)) == 2
