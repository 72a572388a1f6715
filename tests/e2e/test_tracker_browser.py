"""The tracker end to end: real Chromium on a local website, a real `footfall serve`, DuckDB rows.

The website (the page host, http://localhost:<port>) embeds the script from the Footfall server
(http://127.0.0.1:<port>) the way a customer's site would; the tests with a server then stop
it gracefully, so the writer drains everything, and read back the stored events. The last test
has no server at all: the page must not notice.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Tab
from tests.e2e.pagehost import PageHost, tracker_tag
from tests.support.server import LiveServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OUTBOUND_URL = "http://example.invalid/x"
ACCEPTED = "footfall_events_accepted_total"
DROPPED = "footfall_events_dropped_total"


def _counted(server: LiveServer, metric: str) -> dict[str, float]:
    """A counter's non-zero values per label set, read from the server's /metrics."""
    text = httpx.get(server.url + "/metrics", timeout=5).text
    return {
        ",".join(f"{key}={value}" for key, value in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric and sample.value
    }


def _wait_accepted(server: LiveServer, count: int, timeout: float = 10.0) -> None:
    """Wait until the server accepted `count` events in all, and check it dropped none.

    The server's own counters are the witness: a beacon sent as its page unloads (the outbound
    click) is no longer reported by the browser to Playwright.
    """
    deadline = time.monotonic() + timeout
    while sum(_counted(server, ACCEPTED).values()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted, dropped = _counted(server, ACCEPTED), _counted(server, DROPPED)
    # A 202 may still be a drop (bot, unknown site): the server counts those by reason.
    assert (sum(accepted.values()), dropped) == (count, {}), (accepted, dropped)


def _props(row: dict[str, Any]) -> dict[str, str]:
    return dict(zip(row["props_keys"], row["props_values"], strict=True))


def _stored(server: LiveServer) -> list[dict[str, Any]]:
    """Stop the server (SIGTERM: the writer drains the queue) and read what it stored."""
    server.stop()
    return server.events()


def test_pageviews_spa_navigation_outbound_click_and_revenue_are_stored(
    tab: Tab, pagehost: PageHost, live_server: LiveServer
) -> None:
    endpoint = live_server.url + "/api/event"
    tag = tracker_tag(live_server.url + "/js/script.js", domain="localhost", api=endpoint)
    home = pagehost.add("/", "app.html", tag)
    page = tab.page

    page.goto(home, referer="https://www.google.com/")
    _wait_accepted(live_server, 1)
    page.click("#spa-nav")
    _wait_accepted(live_server, 2)
    page.click("#signup")
    page.wait_for_function("window.signedUp === true")
    _wait_accepted(live_server, 3)
    tab.screenshot("tracker-app")
    page.click("#outbound")  # leaves the page at once: the beacon must survive the unload
    page.wait_for_url(OUTBOUND_URL)
    _wait_accepted(live_server, 4)
    assert tab.errors == []

    rows = _stored(live_server)

    assert [(row["kind"], row["name"], row["pathname"]) for row in rows] == [
        ("pageview", "pageview", "/"),
        ("pageview", "pageview", "/spa/page2"),
        ("event", "Signup", "/spa/page2"),
        ("event", "Outbound Link: Click", "/spa/page2"),
    ]
    pageview, spa_pageview, signup, outbound = rows
    assert _props(signup) == {"plan": "pro"}
    assert (signup["revenue_amount"], signup["revenue_currency"]) == (Decimal("12.50"), "EUR")
    assert _props(outbound) == {"url": OUTBOUND_URL}
    desktop_chrome = ("localhost", "Chrome", "Desktop")
    for row in rows:
        assert (row["hostname"], row["browser"], row["device"]) == desktop_chrome
        assert row["screen_width"] == 1280
        assert row["is_bot"] is False
    # document.referrer stays the page that sent the visitor, also after SPA navigation.
    for row in (pageview, spa_pageview):
        assert row["referrer_source"] == "Google"
        assert "google.com" in row["referrer"]
    # One visitor, one visit: the cookieless hash ties the events together.
    assert len({row["visitor_id"] for row in rows}) == 1
    assert len({row["session_id"] for row in rows}) == 1


def test_hash_routing_and_file_download_with_default_endpoint_and_domain(
    tab: Tab, pagehost: PageHost, live_server: LiveServer
) -> None:
    # No data-api (the endpoint follows the script's origin), no data-domain (the page's host).
    home = pagehost.add("/", "hash.html", tracker_tag(live_server.url + "/js/script.js", hash=""))
    page = tab.page

    page.goto(home)
    _wait_accepted(live_server, 1)
    page.click("#to-settings")
    _wait_accepted(live_server, 2)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "manual.pdf"
    _wait_accepted(live_server, 3)
    assert tab.errors == []

    rows = _stored(live_server)

    assert [(row["kind"], row["name"]) for row in rows] == [
        ("pageview", "pageview"),
        ("pageview", "pageview"),
        ("event", "File Download"),
    ]
    assert [row["pathname"] for row in rows[:2]] == ["/", "/#/settings"]
    assert _props(rows[2]) == {"url": pagehost.url + "/files/manual.pdf"}
    assert {row["hostname"] for row in rows} == {"localhost"}


def test_page_keeps_working_when_the_api_is_down(tab: Tab, pagehost: PageHost) -> None:
    dead_endpoint = f"http://127.0.0.1:{free_port()}/api/event"
    tag = tracker_tag(pagehost.script_url, domain="localhost", api=dead_endpoint)
    home = pagehost.add("/", "app.html", tag)
    attempts: list[str] = []
    tab.context.on("request", lambda request: attempts.append(request.url))
    page = tab.page

    page.goto(home)
    page.click("#spa-nav")
    assert page.text_content("#route") == "page 2"
    page.click("#signup")
    page.wait_for_function("window.signedUp === true")  # the callback runs all the same
    page.click("#outbound")
    page.wait_for_url(OUTBOUND_URL)

    assert attempts.count(dead_endpoint) == 4  # it did try: pageview, pageview, Signup, click
    assert tab.errors == []
