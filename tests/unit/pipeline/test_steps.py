"""The Enricher end to end: raw events in, stored rows out, sessions across a batch."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.enrich.visitor import session_hash
from footfall.events import Event, RawEvent
from footfall.pipeline.steps import STEPS, Enricher

SECRET = b"k" * 32
T0 = 1_780_000_000_123  # 2026-05-28T20:26:40.123Z
MINUTE = 60_000
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def raw(**overrides: Any) -> RawEvent:
    fields: dict[str, Any] = {
        "event_id": os.urandom(16),
        "ts_ms": T0,
        "site_id": 1,
        "kind": "pageview",
        "name": "pageview",
        "visitor_id": 42,
        "url": "https://www.example.com/pricing",
        "user_agent": CHROME_MAC,
    }
    fields.update(overrides)
    return RawEvent(**fields)


def one(event: RawEvent, enricher: Enricher | None = None) -> Event:
    (row,) = (enricher or Enricher(secret_key=SECRET)).process([event])
    return row


def test_pageview_from_search() -> None:
    row = one(
        raw(
            referrer="https://www.google.de/search?q=footfall#x",
            country="DE",
            screen_width=1440,
            props_keys=["plan"],
            props_values=["pro"],
        )
    )
    assert row.ts == datetime(2026, 5, 28, 20, 26, 40, 123000, tzinfo=UTC)
    assert (row.hostname, row.pathname) == ("www.example.com", "/pricing")
    assert row.referrer == "https://www.google.de/search"
    assert (row.referrer_source, row.channel) == ("Google", "Organic Search")
    assert (row.browser, row.browser_version, row.os, row.os_version, row.device) == (
        "Chrome",
        "131.0",
        "macOS",
        "10.15",
        "Desktop",
    )
    assert (row.country, row.screen_width) == ("DE", 1440)
    assert (row.props_keys, row.props_values) == (["plan"], ["pro"])
    assert row.visitor_id == 42
    assert row.session_id > 0


def test_self_referral_is_no_referrer() -> None:
    row = one(raw(referrer="https://example.com/home"))
    assert (row.referrer, row.referrer_source, row.channel) == ("", "Direct / None", "Direct")


def test_referrer_is_stored_without_credentials_query_or_fragment() -> None:
    row = one(raw(referrer="https://user:pw@Blog.Example.org/post?id=1#c"))
    assert row.referrer == "https://blog.example.org/post"
    assert (row.referrer_source, row.channel) == ("blog.example.org", "Referral")


@pytest.mark.parametrize(
    "referrer", ["news.ycombinator.com/item?id=1", "//news.ycombinator.com/item?id=1"]
)
def test_referrer_without_scheme(referrer: str) -> None:
    row = one(raw(referrer=referrer))
    assert (row.referrer_source, row.channel) == ("Hacker News", "Organic Social")
    assert "?" not in row.referrer


def test_campaign_tags_from_the_page_url() -> None:
    row = one(
        raw(url="https://example.com/?utm_source=fb&utm_medium=paid&utm_campaign=spring&fbclid=x")
    )
    assert (row.utm_source, row.utm_medium, row.utm_campaign) == ("fb", "paid", "spring")
    assert (row.referrer_source, row.channel) == ("Facebook", "Paid Social")


def test_hash_routing_keeps_the_fragment_and_its_query() -> None:
    row = one(raw(url="https://example.com/#/settings?utm_source=newsletter", hash_routing=True))
    assert row.pathname == "/#/settings"
    assert (row.utm_source, row.channel) == ("newsletter", "Email")


def test_caller_hints_win_over_the_header() -> None:
    row = one(raw(browser_hint="firefox", device_hint="tablet"))
    assert (row.browser, row.browser_version, row.device) == ("Firefox", "", "Tablet")
    same = one(raw(browser_hint="Chrome", device_hint="toaster"))
    assert (same.browser, same.browser_version, same.device) == ("Chrome", "131.0", "Desktop")
    unknown = one(raw(user_agent="", browser_hint="Netscape Navigator"))
    assert (unknown.browser, unknown.device) == ("Netscape Navigator", "")


def test_props_limits_are_enforced_again() -> None:
    keys = [f"k{i}" for i in range(40)] + [""]
    row = one(raw(props_keys=keys, props_values=["v" * 3000] * 41))
    assert len(row.props_keys) == 30
    assert all(len(value) == 2000 for value in row.props_values)


@pytest.mark.parametrize(
    ("amount", "currency", "expected_amount", "expected_currency"),
    [
        ("12.50", "eur", Decimal("12.5000"), "EUR"),
        (" 99.99 ", "USD", Decimal("99.9900"), "USD"),
        ("0.123456", "USD", Decimal("0.1235"), "USD"),
        ("10", "dollars", Decimal("10.0000"), ""),
        ("abc", "USD", None, ""),
        ("NaN", "USD", None, ""),
        ("Infinity", "USD", None, ""),
        ("1e20", "USD", None, ""),
        (None, "USD", None, ""),
    ],
)
def test_revenue(
    amount: str | None,
    currency: str,
    expected_amount: Decimal | None,
    expected_currency: str,
) -> None:
    row = one(raw(kind="conversion", revenue_amount=amount, revenue_currency=currency))
    assert row.revenue_amount == expected_amount
    if expected_amount is not None:
        assert str(row.revenue_amount) == str(expected_amount)
    assert row.revenue_currency == expected_currency


def test_link_fields_are_copied_and_email_links_are_email() -> None:
    row = one(
        raw(
            kind="click",
            name="click",
            link_id=7,
            campaign_id=3,
            recipient="alice",
            platform="Android",
            is_bot=True,
        ),
    )
    assert (row.link_id, row.campaign_id, row.recipient, row.platform) == (7, 3, "alice", "Android")
    assert row.is_bot
    assert row.channel == "Email"
    opened = one(raw(kind="open", name="open", campaign_id=3))
    assert opened.channel == "Email"
    plain_link = one(raw(kind="click", name="click", link_id=7))
    assert plain_link.channel == "Direct"


def test_batch_id_and_engagement_fields() -> None:
    enricher = Enricher(secret_key=SECRET)
    (row,) = enricher.process(
        [raw(kind="engagement", name="engagement", scroll_depth=140, engagement_ms=5200)],
        batch_id=99,
    )
    assert (row.batch_id, row.scroll_depth, row.engagement_ms) == (99, 100, 5200)


def test_out_of_order_batch_is_sessionized_in_time_order_and_returned_in_arrival_order() -> None:
    # Arrival order: 40 min, 0 min, 20 min. In time order each gap is 20 minutes: one visit.
    # Taken in arrival order the first two would be 40 minutes apart: two visits.
    raws = [raw(ts_ms=T0 + 40 * MINUTE), raw(ts_ms=T0), raw(ts_ms=T0 + 20 * MINUTE)]
    rows = Enricher(secret_key=SECRET).process(raws)
    assert [r.event_id for r in rows] == [r.event_id for r in raws]
    assert len({r.session_id for r in rows}) == 1


def test_timeout_splits_visits_across_batches() -> None:
    enricher = Enricher(secret_key=SECRET, session_timeout_s=1800)
    (first,) = enricher.process([raw(ts_ms=T0)])
    (second,) = enricher.process([raw(ts_ms=T0 + 10 * MINUTE)])
    (third,) = enricher.process([raw(ts_ms=T0 + 45 * MINUTE)])
    assert first.session_id == second.session_id != third.session_id


def test_session_key_is_hashed_into_the_session_id() -> None:
    row = one(raw(session_key="session456", user_id="user123"))
    assert row.session_id == session_hash(SECRET, 1, "session456")
    assert row.user_id == "user123"


def test_midnight_handover_stores_yesterdays_visitor_id() -> None:
    enricher = Enricher(secret_key=SECRET)
    (before,) = enricher.process([raw(ts_ms=T0, visitor_id=111)])
    (after,) = enricher.process([raw(ts_ms=T0 + MINUTE, visitor_id=222, visitor_id_prev=111)])
    assert (after.visitor_id, after.session_id) == (111, before.session_id)


def test_restored_sessions_continue_after_a_restart() -> None:
    enricher = Enricher(secret_key=SECRET)
    enricher.restore_sessions([(1, 42, 987654321, T0)])
    (row,) = enricher.process([raw(ts_ms=T0 + 5 * MINUTE)])
    assert row.session_id == 987654321


def test_steps_are_named_functions_in_order() -> None:
    assert [step.__name__ for step in STEPS] == [
        "split_url",
        "referrer",
        "campaign",
        "source_and_channel",
        "user_agent",
        "properties",
        "revenue",
        "timestamp",
    ]


def test_empty_batch() -> None:
    assert Enricher(secret_key=SECRET).process([]) == []


junk = st.text(max_size=120)


@settings(max_examples=150)
@given(
    url=junk,
    referrer=st.none() | junk,
    user_agent=junk,
    amount=st.none() | junk,
    currency=st.none() | junk,
    hints=st.tuples(st.none() | junk, st.none() | junk),
    ts_ms=st.integers(min_value=0, max_value=4_102_444_800_000),
    kind=st.sampled_from(["pageview", "event", "conversion", "engagement", "click", "open"]),
)
def test_any_input_enriches_without_raising(
    url: str,
    referrer: str | None,
    user_agent: str,
    amount: str | None,
    currency: str | None,
    hints: tuple[str | None, str | None],
    ts_ms: int,
    kind: str,
) -> None:
    row = one(
        raw(
            url=url,
            referrer=referrer,
            user_agent=user_agent,
            revenue_amount=amount,
            revenue_currency=currency,
            browser_hint=hints[0],
            device_hint=hints[1],
            ts_ms=ts_ms,
            kind=kind,
        )
    )
    assert row.pathname.startswith("/")
    assert row.channel in {
        "Direct",
        "Organic Search",
        "Paid Search",
        "Organic Social",
        "Paid Social",
        "Email",
        "Referral",
    }
    assert row.device in {"", "Desktop", "Mobile", "Tablet"}
    assert row.session_id > 0
