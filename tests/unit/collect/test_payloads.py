"""Decoding of every collection payload: long/short keys, Plausible quirks, bad input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.collect.payloads import (
    BadInput,
    decode_batch,
    decode_plausible,
    decode_track_conversion,
    decode_track_event,
    decode_user_analytics,
    parse_timestamp,
)
from footfall.events import Kind

NOW_MS = 1_780_000_000_000  # 2026-05-28


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_long_and_short_keys_decode_the_same() -> None:
    long = decode_plausible(
        body(
            name="Signup",
            url="https://example.com/a",
            domain="example.com",
            referrer="https://google.com/",
            props={"plan": "pro"},
            revenue={"amount": "12.50", "currency": "eur"},
            screen_width=1280,
            interactive=False,
        )
    )
    short = decode_plausible(
        body(
            n="Signup",
            u="https://example.com/a",
            d="example.com",
            r="https://google.com/",
            p={"plan": "pro"},
            **{"$": {"amount": 12.5, "currency": "EUR"}},
            w=1280,
            i=False,
        )
    )
    assert long == short
    assert long.kind is Kind.EVENT
    assert long.revenue_amount == "12.5" and long.revenue_currency == "EUR"
    assert long.props == {"plan": "pro"}
    assert long.interactive is False and long.screen_width == 1280


def test_plausible_tracker_quirks() -> None:
    incoming = decode_plausible(
        body(
            n="pageview",
            u="https://example.com/#/settings",
            d="example.com, Blog.Example.com,example.com",
            r=None,
            p=json.dumps({"n": 3, "flag": True, "ratio": 0.5, "gone": None}),
            h=1,
            v=21,
            unknown_key="ignored",
        )
    )
    assert incoming.kind is Kind.PAGEVIEW
    assert incoming.domains == ["example.com", "blog.example.com"]
    assert incoming.referrer is None
    assert incoming.props == {"n": "3", "flag": "true", "ratio": "0.5"}
    assert incoming.hash_routing is True


def test_engagement_event_carries_scroll_depth_and_time() -> None:
    incoming = decode_plausible(
        body(n="engagement", u="https://example.com/", d="example.com", sd=140, e=5300.7)
    )
    assert incoming.kind is Kind.ENGAGEMENT
    assert incoming.scroll_depth == 100  # clamped to a percentage
    assert incoming.engagement_ms == 5300
    assert incoming.interactive is False


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{", "malformed_json"),
        (b"", "malformed_json"),
        (b"[1, 2]", "invalid_field"),
        (body(n=5, u="https://a.com/", d="a.com"), "invalid_field"),
        (body(u="https://a.com/", d="a.com"), "missing_field"),
        (body(n="pageview", d="a.com"), "missing_field"),
        (body(n="pageview", u="https://a.com/"), "missing_field"),
        (body(n="pageview", u="javascript:alert(1)", d="a.com"), "invalid_url"),
        (body(n="pageview", u="/relative", d="a.com"), "invalid_url"),
        (body(n="pageview", u="https://a.com/", d=" , "), "invalid_domain"),
        (body(n="x" * 121, u="https://a.com/", d="a.com"), "field_too_long"),
        (body(n="a\nb", u="https://a.com/", d="a.com"), "invalid_field"),
        (body(n="e", u="https://a.com/", d="a.com", p="{not json"), "invalid_props"),
        (body(n="e", u="https://a.com/", d="a.com", p={"a": {"nested": 1}}), "invalid_field"),
        (body(n="e", u="https://a.com/", d="a.com", p='{"a": [1]}'), "invalid_props"),
        (body(n="e", u="https://a.com/", d="a.com", p=[1]), "invalid_field"),
        (body(n="e", u="https://a.com/", d="a.com", revenue={"amount": "x"}), "invalid_revenue"),
        (
            body(n="e", u="https://a.com/", d="a.com", revenue={"amount": 1, "currency": "EURO"}),
            "invalid_revenue",
        ),
        (
            body(n="e", u="https://a.com/", d="a.com", revenue={"amount": "NaN", "currency": "X"}),
            "invalid_revenue",
        ),
    ],
)
def test_bad_plausible_payloads_are_refused(payload: bytes, code: str) -> None:
    with pytest.raises(BadInput) as caught:
        decode_plausible(payload)
    assert caught.value.code == code
    assert caught.value.message


def test_track_event_page_view_and_custom_event() -> None:
    page = decode_track_event(
        body(
            event_type="page_view",
            user_id="user123",
            session_id="session456",
            timestamp="2026-05-28T12:34:56Z",
            metadata={
                "page_url": "https://example.com/a",
                "referrer_url": "https://referrer.com",
                "browser": "Chrome",
                "device": "Desktop",
                "any_other_key": "kept as a prop",
                "count": 3,
            },
        ),
        NOW_MS,
    )
    assert page.kind is Kind.PAGEVIEW and page.name == "pageview"
    assert page.domains == ["example.com"]  # from page_url when `site` is absent
    assert page.user_id == "user123" and page.session_key == "session456"
    assert page.ts_ms == 1_779_971_696_000
    assert page.browser_hint == "Chrome" and page.device_hint == "Desktop"
    assert page.props == {"any_other_key": "kept as a prop", "count": "3"}
    assert page.referrer == "https://referrer.com"
    custom = decode_track_event(body(event_type="Download", site="example.com"), NOW_MS)
    assert custom.kind is Kind.EVENT and custom.name == "Download"
    assert custom.ts_ms == NOW_MS and custom.url == "https://example.com/"


def test_track_conversion_revenue_from_metadata() -> None:
    conversion = decode_track_conversion(
        body(
            conversion_type="purchase",
            user_id=42,
            site="example.com",
            metadata={"product_id": "prod789", "amount": 99.99, "currency": "usd"},
        ),
        NOW_MS,
    )
    assert conversion.kind is Kind.CONVERSION and conversion.name == "purchase"
    assert conversion.revenue_amount == "99.99" and conversion.revenue_currency == "USD"
    assert conversion.props == {"product_id": "prod789"}
    assert conversion.user_id == "42"


@pytest.mark.parametrize(
    "payload",
    [
        body(site="example.com"),
        body(event_type="", site="example.com"),
        body(event_type="x"),  # no site and no page_url
        body(event_type="x", site="a.com", timestamp="yesterday"),
        body(event_type="x", site="a.com", timestamp=1_780_000_000 + 3600),  # future
        body(event_type="x", site="a.com", timestamp=1_780_000_000_000),  # milliseconds
        body(event_type="x", site="a.com", metadata={"page_url": "ftp://a.com/"}),
        body(event_type="x", site="a.com", metadata="not an object"),
    ],
)
def test_bad_track_events_are_refused(payload: bytes) -> None:
    with pytest.raises(BadInput):
        decode_track_event(payload, NOW_MS)


def test_timestamps() -> None:
    assert parse_timestamp(None, NOW_MS) == NOW_MS
    assert parse_timestamp(1_700_000_000, NOW_MS) == 1_700_000_000_000
    assert parse_timestamp("2026-05-28T14:00:00+02:00", NOW_MS) == parse_timestamp(
        "2026-05-28T12:00:00Z", NOW_MS
    )
    assert parse_timestamp("2026-05-28T12:00:00", NOW_MS) == parse_timestamp(
        "2026-05-28T12:00:00Z", NOW_MS
    )
    with pytest.raises(BadInput):
        parse_timestamp(True, NOW_MS)


def test_user_analytics_parameters() -> None:
    incoming = decode_user_analytics(
        {"timestamp": "1779999990", "user": "3", "event": "click"}, "localhost", NOW_MS
    )
    assert incoming.name == "click" and incoming.user_id == "3"
    assert incoming.domains == ["localhost"] and incoming.ts_ms == 1_779_999_990_000
    for bad in (
        {"user": "3", "event": "click"},
        {"timestamp": "-5", "user": "3", "event": "click"},
        {"timestamp": "12.5", "user": "3", "event": "click"},
        {"timestamp": "1779999990", "event": "click"},
        {"timestamp": "1779999990", "user": "3"},
        {"timestamp": "1779999990", "user": "3", "event": ""},
    ):
        with pytest.raises(BadInput):
            decode_user_analytics(bad, "localhost", NOW_MS)


def test_batch_array_and_ndjson() -> None:
    items = [{"event_type": "page_view", "site": "a.com"}, {"event_type": "x", "site": "a.com"}]
    assert decode_batch(json.dumps(items).encode(), False, 10) == items
    ndjson = b"\n".join(json.dumps(item).encode() for item in items) + b"\n\n"
    assert decode_batch(ndjson, True, 10) == items
    with pytest.raises(BadInput) as too_many:
        decode_batch(json.dumps(items * 6).encode(), False, 10)
    assert too_many.value.code == "batch_too_large"
    with pytest.raises(BadInput):
        decode_batch(b'{"event_type": "x"}\n{broken', True, 10)
    # a lone object is one line of NDJSON; each item is validated later, on its own
    assert decode_batch(b'{"not": "an array"}', False, 10) == [{"not": "an array"}]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_bad_input(data: bytes) -> None:
    with contextlib.suppress(BadInput):
        decode_plausible(data)


@given(
    st.dictionaries(
        st.sampled_from(["n", "u", "d", "r", "p", "$", "w", "h", "i", "name", "props"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=30),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
        ),
    )
)
def test_arbitrary_json_objects_never_raise_anything_but_bad_input(fields: dict[str, Any]) -> None:
    with contextlib.suppress(BadInput):
        decode_plausible(json.dumps(fields).encode())
