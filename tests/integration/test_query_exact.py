"""Exact answers of the query engine on a small hand-built world, on DuckDB and ClickHouse.

The world (site 1, Europe/Berlin, 15 January 2025, times in UTC):
- visitor 1: 12:00 `/` from Google (Organic Search), 12:01 `/a`: two pages, 60 s, not a bounce.
- visitor 2: 13:00 `/`, direct, one page: a bounce of 0 s.
- visitor 3: 14:00 `/b` from Facebook (Organic Social, utm_source fb), 14:01 `/c`, 14:01:01
  custom event Signup (plan=pro): 61 s, converts (goal "Signup").
- visitor 4: 15:00 `/thanks`, direct, on a Mobile device from DE, then an engagement event of
  5 s at 15:00:20: still a bounce (engagement is not interactive), 20 s; converts (page goal).
- visitor 5: 16:00 `/` as a bot: excluded everywhere.
- visitor 6: 22:59 UTC on the 15th = 23:59 in Berlin: `/late` (the last Berlin minute of the day).
- visitor 7: 23:00 UTC on the 15th = 00:00 on the 16th in Berlin: `/next`, purchase of 12.50 EUR.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from footfall.meta.sites import SiteInfo
from footfall.query import GoalSpec, parse_query, run_query
from footfall.store import SessionStore
from tests.support.factories import (
    conversion,
    custom_event,
    engagement,
    pageview,
    populate,
    visit,
)
from tests.support.stores import clickhouse_server, event_store

__all__ = ["clickhouse_server", "event_store"]  # fixtures

DAY = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
NOW = datetime(2025, 1, 20, 12, 0, tzinfo=UTC)
SITE = SiteInfo(1, "example.com", "Europe/Berlin", (), (), ())
GOALS = (GoalSpec(event_name="Signup"), GoalSpec(page_path="/thanks*"))
DATES = ["2025-01-15", "2025-01-15"]


def _world() -> list[Any]:
    hour = timedelta(hours=1)
    rows = visit(
        1, DAY, ["/", "/a"], referrer_source="Google", channel="Organic Search", referrer="g"
    )
    rows += [pageview(visitor_id=2, session_id=2, ts=DAY + hour)]
    rows += visit(
        3,
        DAY + 2 * hour,
        ["/b", "/c"],
        [custom_event("Signup", props_keys=["plan"], props_values=["pro"])],
        referrer_source="Facebook",
        channel="Organic Social",
        utm_source="fb",
    )
    at = DAY + 3 * hour
    mobile = {"visitor_id": 4, "session_id": 4, "device": "Mobile", "country": "DE"}
    rows += [
        pageview(ts=at, pathname="/thanks", **mobile),
        engagement(ts=at + timedelta(seconds=20), pathname="/thanks", engagement_ms=5000, **mobile),
    ]
    rows += [pageview(visitor_id=5, session_id=5, ts=DAY + 4 * hour, is_bot=True)]
    late = datetime(2025, 1, 15, 22, 59, tzinfo=UTC)
    rows += [pageview(visitor_id=6, session_id=6, ts=late, pathname="/late")]
    next_day = datetime(2025, 1, 15, 23, 0, tzinfo=UTC)
    rows += [
        pageview(visitor_id=7, session_id=7, ts=next_day, pathname="/next"),
        conversion(
            "purchase",
            "12.50",
            "EUR",
            visitor_id=7,
            session_id=7,
            ts=next_day + timedelta(seconds=5),
        ),
    ]
    return rows


@pytest.fixture
def world(event_store: SessionStore) -> SessionStore:
    populate(event_store, _world())
    return event_store


def ask(store: SessionStore, **body: Any) -> dict[str, Any]:
    payload = {"site_id": "example.com", "date_range": DATES, **body}
    result = run_query(store, parse_query(payload), SITE, now=NOW, goals=GOALS)
    return result.to_json()


def table(answer: dict[str, Any]) -> dict[tuple[Any, ...], list[Any]]:
    return {tuple(row["dimensions"]): row["metrics"] for row in answer["results"]}


def test_top_stats_of_one_berlin_day(world: SessionStore) -> None:
    metrics = [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events",
        "time_on_page",
        "conversion_rate",
    ]
    answer = ask(world, metrics=metrics)
    # Visitors 1, 2, 3, 4, 6 (5 is a bot, 7 falls on the 16th in Berlin).
    # Bounces: 2, 4, 6 of 5 visits; durations 60 + 0 + 61 + 20 + 0 = 141 s.
    # Events: 7 pageviews + Signup (the engagement row is no event).
    assert answer["results"] == [
        {"dimensions": [], "metrics": [5, 5, 7, 1.4, 60.0, 28, 8, 5, 40.0]}
    ]
    assert answer["query"]["date_range"] == ["2025-01-14T23:00:00Z", "2025-01-15T22:59:59Z"]


def test_sources_channels_and_entry_exit_pages(world: SessionStore) -> None:
    sources = ask(world, metrics=["visitors", "bounce_rate"], dimensions=["visit:source"])
    assert table(sources) == {
        ("Direct / None",): [3, 100.0],
        ("Facebook",): [1, 0.0],
        ("Google",): [1, 0.0],
    }
    assert sources["results"][0]["dimensions"] == ["Direct / None"]  # most visitors first
    channels = ask(world, metrics=["visits"], dimensions=["visit:channel"])
    assert table(channels) == {
        ("Direct",): [3],
        ("Organic Search",): [1],
        ("Organic Social",): [1],
    }
    pages = ask(world, metrics=["visits"], dimensions=["visit:entry_page", "visit:exit_page"])
    assert table(pages) == {
        ("/", "/a"): [1],
        ("/", "/"): [1],
        ("/b", "/c"): [1],
        ("/thanks", "/thanks"): [1],
        ("/late", "/late"): [1],
    }
    utm = ask(world, metrics=["visitors"], dimensions=["visit:utm_source"])
    assert table(utm) == {("",): [4], ("fb",): [1]}


def test_event_dimensions_props_and_percentage(world: SessionStore) -> None:
    names = ask(world, metrics=["visitors", "events"], dimensions=["event:name"])
    assert table(names) == {("pageview",): [5, 7], ("Signup",): [1, 1]}
    props = ask(
        world,
        metrics=["visitors", "percentage"],
        dimensions=["event:props:plan"],
        filters=[["is", "event:name", ["Signup"]]],
    )
    assert table(props) == {("pro",): [1, 100.0]}
    devices = ask(world, metrics=["visitors", "percentage"], dimensions=["visit:device"])
    assert table(devices) == {("Desktop",): [4, 80.0], ("Mobile",): [1, 20.0]}
    pages = ask(world, metrics=["pageviews", "time_on_page"], dimensions=["event:page"])
    assert table(pages)[("/thanks",)] == [1, 5]
    assert table(pages)[("/",)] == [2, 0]


def test_conversion_rates_by_group(world: SessionStore) -> None:
    answer = ask(
        world,
        metrics=["visitors", "conversion_rate", "group_conversion_rate"],
        dimensions=["visit:country"],
    )
    # DE: visitor 4 converted (1 of 1 in the group, 1 of 5 overall); US: visitor 3 of 4.
    assert table(answer) == {("DE",): [1, 20.0, 100.0], ("US",): [4, 20.0, 25.0]}


def test_revenue_and_the_next_berlin_day(world: SessionStore) -> None:
    answer = ask(
        world,
        metrics=["visitors", "revenue", "conversion_rate"],
        date_range=["2025-01-16", "2025-01-16"],
    )
    assert answer["results"][0]["metrics"] == [1, 12.5, 100.0]


def test_filters_and_or_not_and_operators(world: SessionStore) -> None:
    def visitors(filters: list[Any]) -> int:
        found = ask(world, metrics=["visitors"], filters=filters)["results"][0]["metrics"][0]
        assert isinstance(found, int)
        return found

    assert visitors([["is", "visit:source", ["Google", "Facebook"]]]) == 2
    assert visitors([["is_not", "visit:source", ["Google"]]]) == 4
    assert visitors([["contains", "event:page", ["hank"]]]) == 1
    assert visitors([["contains_not", "event:page", ["/"]]]) == 0
    assert visitors([["matches", "event:page", ["^/(a|b)$"]]]) == 2
    assert visitors([["matches_not", "event:page", ["^/"]]]) == 0
    assert visitors([["is", "visit:country", ["de"], {"case_sensitive": False}]]) == 1
    either = ["or", [["is", "event:page", ["/late"]], ["is", "visit:device", ["Mobile"]]]]
    assert visitors([either]) == 2
    assert visitors([["not", either]]) == 3
    both = ["and", [["is", "visit:channel", ["Direct"]], ["is", "visit:device", ["Mobile"]]]]
    assert visitors([both]) == 1


def test_time_buckets_fill_empty_hours_in_the_site_zone(world: SessionStore) -> None:
    answer = ask(world, metrics=["visitors"], dimensions=["time:hour"])
    rows = table(answer)
    assert len(rows) == 24
    assert rows[("2025-01-15 13:00:00",)] == [1]  # 12:00 UTC
    assert rows[("2025-01-15 23:00:00",)] == [1]  # 22:59 UTC
    assert rows[("2025-01-15 03:00:00",)] == [0]
    days = ask(world, metrics=["visitors"], dimensions=["time:day"], date_range="7d")
    assert table(days)[("2025-01-15",)] == [5]
    assert table(days)[("2025-01-16",)] == [1]
    assert len(days["results"]) == 7


def test_comparison_with_the_previous_period(world: SessionStore) -> None:
    answer = ask(
        world,
        metrics=["visitors", "bounce_rate"],
        date_range=["2025-01-16", "2025-01-16"],
        include={"comparisons": {"mode": "previous_period"}},
    )
    row = answer["results"][0]
    assert row["metrics"] == [1, 0.0]
    assert row["comparison"] == {"dimensions": [], "metrics": [5, 60.0], "change": [-80, -60.0]}
    assert answer["query"]["include"]["comparisons"]["date_range"][0] == "2025-01-14T23:00:00Z"


def test_pagination_fetches_one_more_and_counts_rows(world: SessionStore) -> None:
    first = ask(
        world,
        metrics=["pageviews"],
        dimensions=["event:page"],
        order_by=[["event:page", "asc"]],
        pagination={"limit": 2, "offset": 0},
        include={"total_rows": True},
    )
    assert [row["dimensions"][0] for row in first["results"]] == ["/", "/a"]
    assert first["meta"] == {"has_more": True, "total_rows": 6}
    last = ask(
        world,
        metrics=["pageviews"],
        dimensions=["event:page"],
        order_by=[["event:page", "asc"]],
        pagination={"limit": 2, "offset": 4},
    )
    assert [row["dimensions"][0] for row in last["results"]] == ["/late", "/thanks"]
    assert last["meta"]["has_more"] is False


HOSTILE = [
    "x' OR '1'='1",
    "'); DROP TABLE events; --",
    "%(p0)s",
    "$1",
    "\\' \\\\ %_ ?",
    "\u00e9\u00e8 \u0000 end",
]


def test_hostile_values_and_prop_keys_are_only_data(world: SessionStore) -> None:
    for value in HOSTILE:
        for operator in ("is", "contains", "is_not"):
            answer = ask(
                world,
                metrics=["visitors"],
                dimensions=[f"event:props:{value}"],
                filters=[
                    [operator, "event:page", [value]],
                    ["is_not", f"event:props:{value}", [value]],
                ],
            )
            visitors = sum(row["metrics"][0] for row in answer["results"])
            assert visitors == (5 if operator == "is_not" else 0), (value, operator)
    # A pattern that backtracks exponentially in a backtracking engine runs linearly in RE2.
    bomb = ask(world, metrics=["visitors"], filters=[["matches", "event:page", ["^(a+)+$"]]])
    assert bomb["results"][0]["metrics"] == [0]
    assert ask(world, metrics=["visitors"])["results"][0]["metrics"] == [5]  # table intact
