"""Link and campaign stats on both event stores: the same rows give the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from footfall.links.stats import any_clicks, campaign_stats, link_counts, redirect_click_counts
from footfall.meta.sites import SiteInfo
from footfall.query import parse_query, run_query
from footfall.store import SessionStore
from tests.support import factories
from tests.support.stores import clickhouse_server, event_store

__all__ = ["clickhouse_server", "event_store"]  # fixtures

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SITE = SiteInfo(factories.DEFAULT_SITE_ID, "example.com", "UTC", (), (), ())


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_campaign_and_link_stats(event_store: SessionStore) -> None:
    click, open_ = factories.click, factories.open
    factories.populate(
        event_store,
        [
            # alice opens twice (human) and clicks link 1 twice; an Apple prefetch is a machine
            open_(7, "alice", ts=_at(0), platform="iPhone", visitor_id=1),
            open_(7, "alice", ts=_at(60), platform="iPhone", visitor_id=1),
            open_(7, "alice", ts=_at(1), is_bot=True, visitor_id=2),
            click(1, campaign_id=7, recipient="alice", platform="iPhone", ts=_at(70)),
            click(1, campaign_id=7, recipient="alice", platform="iPhone", ts=_at(75)),
            # bob: no open seen (images off), clicks link 2 from Android in Germany
            click(2, campaign_id=7, recipient="bob", platform="Android", country="DE", ts=_at(5)),
            # carol's gateway scanner fetches both links within a second: machine clicks
            click(1, campaign_id=7, recipient="carol", platform="Windows", ts=_at(10)),
            click(2, campaign_id=7, recipient="carol", platform="Windows", ts=_at(10.5)),
            # a previewer without recipient: flagged at collection
            click(2, campaign_id=7, platform="other", is_bot=True, visitor_id=9, ts=_at(20)),
            # an anonymous forwardee (no recipient) counts by visitor
            click(1, campaign_id=7, platform="macOS", visitor_id=42, ts=_at(3600 * 25)),
            # another campaign's traffic and an o7 redirect campaign's clicks
            click(3, campaign_id=8, recipient="alice", ts=_at(5)),
            click(0, campaign_id=9, platform="Android", ts=_at(1)),
            click(0, campaign_id=9, platform="iPhone", ts=_at(2)),
            click(0, campaign_id=9, platform="iPhone", ts=_at(3)),
            click(0, campaign_id=9, platform="iPhone", is_bot=True, ts=_at(4)),
        ],
    )
    links = [{"id": 1, "url": "https://example.com/1"}, {"id": 2, "url": "https://example.com/2"}]
    human = campaign_stats(event_store, SITE, 7, links, sends=10, now=NOW)
    assert (human["opens"], human["unique_opens"], human["machine_opens"]) == (2, 1, 1)
    assert (human["clicks"], human["unique_clicks"], human["machine_clicks"]) == (4, 3, 3)
    assert human["click_rate"] == 30.0
    assert human["click_to_open_rate"] == 300.0
    assert [(item["clicks"], item["unique_clicks"]) for item in human["links"]] == [(3, 2), (1, 1)]
    assert human["platforms"] == {"iPhone": 2, "Android": 1, "macOS": 1}
    assert human["countries"]["DE"] == 1
    assert [day["clicks"] for day in human["timeseries"]] == [3, 1]

    everything = campaign_stats(event_store, SITE, 7, links, include_machine=True, now=NOW)
    assert (everything["opens"], everything["clicks"]) == (3, 7)
    assert everything["click_rate"] is None

    # Per link, only collection flags count (bursts are judged per campaign, above).
    assert link_counts(event_store, SITE, [1, 2, 3, 99]) == {1: (4, 3), 2: (2, 2), 3: (1, 1)}
    counts = redirect_click_counts(event_store, [9])
    assert counts[9] == {"Android": 1, "iPhone": 2}
    assert any_clicks(event_store, SITE, 2)
    assert not any_clicks(event_store, SITE, 99)


def _answer(store: SessionStore, body: dict[str, object]) -> list[tuple[object, ...]]:
    result = run_query(store, parse_query({"site_id": "example.com", **body}), SITE, now=NOW)
    return [(*(str(value) for value in row.dimensions), *row.metrics) for row in result.rows]


def test_link_traffic_and_recipients_through_the_query_api(event_store: SessionStore) -> None:
    click = factories.click
    factories.populate(
        event_store,
        [
            # dave's scanner: three links within 2 s (all machine), then dave himself later
            click(1, campaign_id=7, recipient="dave", ts=_at(0)),
            click(2, campaign_id=7, recipient="dave", ts=_at(1.5)),
            click(3, campaign_id=7, recipient="dave", ts=_at(3.4)),
            click(1, campaign_id=7, recipient="dave", ts=_at(600)),
            # erin clicks one link twice quickly: the same link is no burst
            click(1, campaign_id=7, recipient="erin", ts=_at(0)),
            click(1, campaign_id=7, recipient="erin", ts=_at(0.5)),
            # frank clicks two links of two campaigns at once: bursts are per campaign
            click(1, campaign_id=7, recipient="frank", ts=_at(0)),
            click(4, campaign_id=8, recipient="frank", ts=_at(0.2)),
            # anonymous clicks count by visitor; one flagged at collection
            click(2, campaign_id=7, visitor_id=5, ts=_at(0)),
            click(3, campaign_id=7, visitor_id=5, ts=_at(0.1)),
            click(2, campaign_id=7, visitor_id=6, is_bot=True, ts=_at(9)),
        ],
    )
    by_traffic = _answer(
        event_store,
        {
            "metrics": ["events", "recipients"],
            "date_range": "all",
            "dimensions": ["link:traffic"],
            "filters": [["is", "link:campaign", [7]], ["is", "event:kind", ["click"]]],
            "order_by": [["link:traffic", "asc"]],
        },
    )
    assert by_traffic == [("human", 6, 4), ("machine", 4, 2)]
    human_links = _answer(
        event_store,
        {
            "metrics": ["events", "recipients"],
            "date_range": "all",
            "dimensions": ["link:code"],
            "filters": [
                ["is", "link:traffic", ["human"]],
                ["is_not", "link:campaign", ["8"]],
            ],
            "order_by": [["link:code", "asc"]],
        },
    )
    assert human_links == [("1", 4, 3), ("2", 1, 1), ("3", 1, 1)]
    # Without link:traffic, machines flagged at collection stay out and bursts stay in.
    plain = _answer(
        event_store,
        {"metrics": ["events", "recipients"], "date_range": "all", "filters": []},
    )
    assert plain == [(10, 4)]


def test_conversions_by_the_visits_link_campaign_and_recipient(event_store: SessionStore) -> None:
    attributed = {"link_id": 4, "campaign_id": 7}
    rows = [
        # alice lands from link 4 of campaign 7 (the click and the landing page view both carry
        # it), reads a second page and converts: the conversion carries nothing itself.
        *factories.visit(
            1,
            T0,
            ["/landing", "/pricing"],
            [
                (0.0, factories.click(4, campaign_id=7, recipient="alice")),
                factories.conversion("Purchase", "30", "EUR"),
            ],
        ),
        # bob comes back the next day without a link and converts: not attributed
        *factories.visit(2, _at(86_400), ["/"], [factories.conversion("Purchase", "5", "EUR")]),
        # carol: a landing page view attributed to link 5 (no campaign), no conversion
        *factories.visit(3, _at(100), ["/landing"]),
    ]
    landing = next(i for i, row in enumerate(rows) if row.kind == "pageview")
    assert rows[landing].pathname == "/landing"
    rows[landing] = msgspec.structs.replace(rows[landing], recipient="alice", **attributed)
    carol = len(rows) - 1
    rows[carol] = msgspec.structs.replace(rows[carol], link_id=5)
    factories.populate(event_store, rows)

    def by(dimension: str, metrics: list[str]) -> list[tuple[object, ...]]:
        return _answer(
            event_store,
            {
                "metrics": metrics,
                "date_range": "all",
                "dimensions": [dimension],
                "filters": [["is", "event:name", ["Purchase"]]],
            },
        )

    assert by("visit:link_campaign", ["visitors", "revenue"]) == [("7", 1, 30.0)]
    assert by("visit:link_code", ["events", "visits"]) == [("4", 1, 1)]
    assert by("visit:link_recipient", ["visitors", "events"]) == [("alice", 1, 1)]
    every_visit = _answer(
        event_store,
        {
            "metrics": ["visits", "pageviews", "bounce_rate"],
            "date_range": "all",
            "dimensions": ["visit:link_code"],
            "order_by": [["visit:link_code", "asc"]],
        },
    )
    assert every_visit == [("4", 1, 2, 0.0), ("5", 1, 1, 100.0)]
    only_campaign = _answer(
        event_store,
        {
            "metrics": ["visitors", "pageviews"],
            "date_range": "all",
            "filters": [["is", "visit:link_campaign", ["7"]]],
        },
    )
    assert only_campaign == [(1, 2)]
