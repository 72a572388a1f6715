"""The tracker's own behaviour in real Chromium: exact payloads, SPA rules, clicks, transports.

The tracker posts to the local page host's recorder here (data-api), so every request it makes
can be checked key by key; test_tracker_browser.py runs the same script against a real server.
Where a test checks that something is NOT sent, it ends with a sentinel event, sent once the
expected events have arrived, and then compares the complete list.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.conftest import Tab
from tests.e2e.pagehost import TRACKER_PATH, Beacon, PageHost, tracker_tag

pytestmark = pytest.mark.browser


def _app(pagehost: PageHost, path: str = "/", template: str = "app.html", **data: str) -> str:
    """Register a test page whose tracker posts to the recorder; returns its URL."""
    attributes = {"domain": "localhost", "api": pagehost.collect_url, **data}
    return pagehost.add(path, template, tracker_tag(pagehost.script_url, **attributes))


def _sentinel(tab: Tab, pagehost: PageHost, count: int) -> list[Beacon]:
    """The `count - 1` beacons the test expects, checked to be all there is: once they have
    arrived, send a last event and wait for it. Requests in flight may overtake each other, so
    the sentinel leaves only after the expected ones are in; an unexpected beacon sent before
    it then arrives ahead of it and fails the check."""
    pagehost.wait_for(count - 1)
    tab.page.evaluate("footfall('Sentinel')")
    beacons = pagehost.wait_for(count)
    assert beacons[-1].name == "Sentinel", [beacon.name for beacon in beacons]
    return beacons[:-1]


def _pages(beacons: list[Beacon]) -> list[str]:
    """The counted URLs without scheme and host: path, query and fragment."""
    parts = [urlsplit(beacon.url) for beacon in beacons]
    return [urlunsplit(("", "", part.path, part.query, part.fragment)) for part in parts]


def test_pageview_payload_uses_short_keys_and_text_plain(tab: Tab, pagehost: PageHost) -> None:
    url = _app(pagehost, domain="localhost,rollup.example")
    tab.page.goto(url)

    [beacon] = pagehost.wait_for(1)

    # A text/plain beacon is a CORS "simple" request: no preflight before each event.
    assert beacon.content_type == "text/plain"
    assert beacon.payload == {
        "n": "pageview",
        "u": url,
        "d": "localhost,rollup.example",
        "r": None,
        "w": 1280,
    }
    # Automation is visible to the page, and still counted: bot filtering is the server's job.
    assert tab.page.evaluate("navigator.webdriver") is True
    assert tab.page.evaluate("document.cookie") == ""
    assert tab.page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_calls_queued_before_load_are_replayed_with_their_options(
    tab: Tab, pagehost: PageHost
) -> None:
    tab.page.goto(_app(pagehost, template="queued.html"), referer="https://search.example/?q=x")

    # The pageview and the two replayed calls leave back to back: they may arrive in any order.
    beacons = _sentinel(tab, pagehost, 4)
    by_name = {beacon.name: beacon for beacon in beacons}
    pageview, newsletter, video = by_name["pageview"], by_name["Newsletter"], by_name["Video Play"]

    assert len(beacons) == 3
    assert pageview.payload["r"] == "https://search.example/?q=x"
    assert newsletter.payload["p"] == {"position": "header", "count": 3, "opted": True}
    assert "i" not in newsletter.payload
    assert video.payload["i"] is False
    assert video.url == "http://localhost/virtual/video"
    tab.page.wait_for_function("window.videoDone === true")
    assert tab.errors == []


def test_single_page_app_navigation_counts_each_new_page_once(tab: Tab, pagehost: PageHost) -> None:
    page = tab.page
    page.goto(_app(pagehost))
    pagehost.wait_for(1)

    page.evaluate("history.pushState({}, '', location.href)")  # same URL: not a new page
    page.evaluate("history.pushState({}, '', '/list')")
    pagehost.wait_for(2)
    page.evaluate("history.pushState({}, '', '/list?page=2')")  # a new query is a new page
    pagehost.wait_for(3)
    page.evaluate("history.replaceState({}, '', '/list?page=2&sort=name')")  # state only
    page.evaluate("history.replaceState({}, '', '/items/7')")  # a redirect to a new path
    pagehost.wait_for(4)
    page.evaluate("location.hash = 'details'")  # an anchor, not a page (no data-hash)
    page.go_back()  # popstate back to /items/7: the same page
    page.go_back()  # popstate back to /list (the replaced entry is gone)
    pagehost.wait_for(5)

    beacons = _sentinel(tab, pagehost, 6)

    assert [beacon.name for beacon in beacons] == ["pageview"] * 5
    assert _pages(beacons) == ["/", "/list", "/list?page=2", "/items/7", "/list"]
    assert tab.errors == []


def test_hash_routing_counts_hash_changes_with_h_flag(tab: Tab, pagehost: PageHost) -> None:
    page = tab.page
    page.goto(_app(pagehost, template="hash.html", hash="true"))
    pagehost.wait_for(1)

    page.click("#to-settings")
    pagehost.wait_for(2)
    page.click("#to-home")
    pagehost.wait_for(3)
    page.evaluate("history.replaceState({}, '', '#/home')")  # the same route: no new pageview
    beacons = _sentinel(tab, pagehost, 4)

    assert _pages(beacons) == ["/", "/#/settings", "/#/home"]
    assert all(beacon.payload["h"] == 1 for beacon in beacons)


def test_outbound_and_download_clicks_never_block_navigation(tab: Tab, pagehost: PageHost) -> None:
    page = tab.page
    home = _app(pagehost)
    _app(pagehost, path="/about")
    page.goto(home)
    pagehost.wait_for(1)

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "report.pdf"
    pagehost.wait_for(2)
    with tab.context.expect_page() as new_tab:
        page.click("#outbound", button="middle")  # opens a background tab, counted too
    new_tab.value.close()
    pagehost.wait_for(3)
    page.click("#outbound", button="right")  # a context menu, not a visit
    page.click("#mail")
    page.click("#internal")
    page.wait_for_url(pagehost.url + "/about")
    pagehost.wait_for(4)
    page.go_back()  # whether from the back/forward cache or reloaded, it is a new view
    page.wait_for_url(home)
    pagehost.wait_for(5)
    beacons = _sentinel(tab, pagehost, 6)

    names = [(beacon.name, beacon.payload.get("p")) for beacon in beacons]
    assert names == [
        ("pageview", None),
        ("File Download", {"url": pagehost.url + "/files/report.pdf"}),
        ("Outbound Link: Click", {"url": "http://example.invalid/x"}),
        ("pageview", None),
        ("pageview", None),
    ]
    assert _pages(beacons)[3:] == ["/about", "/"]


def test_outbound_and_download_tracking_can_be_switched_off(tab: Tab, pagehost: PageHost) -> None:
    page = tab.page
    page.goto(_app(pagehost, outbound="false", downloads="false"))
    pagehost.wait_for(1)

    with page.expect_download():
        page.click("#download")
    with tab.context.expect_page() as new_tab:
        page.click("#outbound", button="middle")
    new_tab.value.close()
    beacons = _sentinel(tab, pagehost, 2)

    assert [beacon.name for beacon in beacons] == ["pageview"]


def test_falls_back_to_fetch_keepalive_without_send_beacon(tab: Tab, pagehost: PageHost) -> None:
    tab.page.add_init_script("delete Navigator.prototype.sendBeacon")
    tab.page.goto(_app(pagehost))

    [beacon] = pagehost.wait_for(1)
    tab.page.click("#signup")
    tab.page.wait_for_function("window.signedUp === true")

    # fetch() labels a string body text/plain;charset=UTF-8, a beacon's Blob just text/plain.
    assert beacon.content_type == "text/plain;charset=UTF-8"
    assert beacon.name == "pageview"
    signup = pagehost.wait_for(2)[1]
    assert signup.payload["$"] == {"amount": "12.50", "currency": "EUR"}


def test_sends_nothing_from_file_pages(tab: Tab, pagehost: PageHost, tmp_path: Path) -> None:
    page_file = tmp_path / "saved.html"
    page_file.write_text(
        (Path(__file__).parent / "pages" / "app.html")
        .read_text()
        .replace("{{tracker}}", tracker_tag(TRACKER_PATH.as_uri(), api=pagehost.collect_url))
    )
    # Count calls to the two transports (still calling through) to prove neither was used.
    tab.page.add_init_script(
        """
        window.transportCalls = 0;
        for (const [owner, name] of [[Navigator.prototype, 'sendBeacon'], [window, 'fetch']]) {
          const original = owner[name];
          owner[name] = function (...args) {
            window.transportCalls++;
            return original.apply(this, args);
          };
        }
        """
    )
    tab.page.goto(page_file.as_uri())  # waits for load, so the deferred tracker has run

    tab.page.click("#signup")

    tab.page.wait_for_function("window.signedUp === true")  # callbacks still run
    assert tab.page.evaluate("window.transportCalls") == 0
    assert pagehost.beacons == []
    assert tab.errors == []
