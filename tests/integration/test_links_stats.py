"""Link and campaign stats on both event stores: the same rows give the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from footfall.links.stats import campaign_stats, link_counts, redirect_click_counts
from footfall.store import SessionStore
from tests.support import factories
from tests.support.stores import clickhouse_server, event_store

__all__ = ["clickhouse_server", "event_store"]  # fixtures

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


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
    human = campaign_stats(event_store, 7, links, sends=10)
    assert (human["opens"], human["unique_opens"], human["machine_opens"]) == (2, 1, 1)
    assert (human["clicks"], human["unique_clicks"], human["machine_clicks"]) == (4, 3, 3)
    assert human["click_rate"] == 30.0
    assert human["click_to_open_rate"] == 300.0
    assert [(item["clicks"], item["unique_clicks"]) for item in human["links"]] == [(3, 2), (1, 1)]
    assert human["platforms"] == {"iPhone": 2, "Android": 1, "macOS": 1}
    assert human["countries"]["DE"] == 1
    assert [day["clicks"] for day in human["timeseries"]] == [3, 1]

    everything = campaign_stats(event_store, 7, links, include_machine=True)
    assert (everything["opens"], everything["clicks"]) == (3, 7)
    assert everything["click_rate"] is None

    # Per link, only collection flags count (bursts are judged per campaign, above).
    assert link_counts(event_store, [1, 2, 3, 99]) == {1: (4, 3), 2: (2, 2), 3: (1, 1)}
    counts = redirect_click_counts(event_store, [9])
    assert counts[9] == {"Android": 1, "iPhone": 2}
