"""Attribution without cookies, end to end: a tracked link's click carries into the visit.

Real Chromium follows a recipient's `/u/` link on a real `footfall serve`, lands on a page of the
local website with the tracker, converts, and the conversion is then broken down by the visit's
campaign, link and recipient through the query API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footfall.links.tokens import TokenSigner
from tests.e2e.conftest import Tab
from tests.e2e.pagehost import PageHost, tracker_tag
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "attribution-test-password-5d1c"
RECIPIENT = "alice+news@example.com"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        tmp_path / "data",
        env={"FOOTFALL_ADMIN_USER": "admin", "FOOTFALL_ADMIN_PASSWORD": PASSWORD},
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _api(server: LiveServer, token: str, method: str, path: str, body: Any) -> Any:
    response = httpx.request(
        method,
        server.url + path,
        json=body,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def _conversions(server: LiveServer, token: str, dimension: str) -> list[list[Any]]:
    """Signup conversions and revenue by `dimension`, once the writer has stored them."""
    body = {
        "site_id": "localhost",
        "metrics": ["visitors", "revenue"],
        "date_range": "day",
        "dimensions": [dimension],
        "filters": [["is", "event:name", ["Signup"]]],
    }
    deadline = time.monotonic() + 15
    while True:
        rows = _api(server, token, "POST", "/api/v2/query", body)["results"]
        if rows or time.monotonic() > deadline:
            return [[*row["dimensions"], *row["metrics"]] for row in rows]
        time.sleep(0.1)


def test_a_click_carries_link_campaign_and_recipient_into_the_conversion(
    tab: Tab, pagehost: PageHost, server: LiveServer
) -> None:
    token = _api(
        server, "", "POST", "/api/v1/authenticate", {"username": "admin", "password": PASSWORD}
    )["token"]
    tag = tracker_tag(server.url + "/js/script.js", domain="localhost")
    landing = pagehost.add("/", "app.html", tag)
    campaign = _api(
        server, token, "POST", "/api/v1/campaigns", {"name": "Spring letter", "site": "localhost"}
    )
    link = _api(
        server,
        token,
        "POST",
        "/api/v1/links",
        {"url": landing + "?from=mail", "campaign": campaign["code"], "site": "localhost"},
    )
    _api(server, token, "POST", "/api/v1/sites/localhost/goals", {"event_name": "Signup"})
    secret = (server.data_dir / "secret_key").read_text().strip()
    page = tab.page

    page.goto(f"{server.url}/u/{link['code']}/{TokenSigner(secret).sign(RECIPIENT)}")
    # The tracker sent the parameter with the first pageview, then took it off the address bar.
    page.wait_for_function("!location.search.includes('ffl=')")
    assert page.url == landing + "?from=mail"
    page.click("#signup")
    page.wait_for_function("window.signedUp === true")
    assert tab.errors == []

    assert _conversions(server, token, "visit:link_campaign") == [["Spring letter", 1, 12.5]]
    assert _conversions(server, token, "visit:link_code") == [[link["code"], 1, 12.5]]
    assert _conversions(server, token, "visit:link_recipient") == [[RECIPIENT, 1, 12.5]]

    server.stop()
    rows = {row["kind"]: row for row in server.events()}
    assert set(rows) == {"click", "pageview", "event"}
    landed = rows["pageview"]
    assert (landed["link_id"], landed["campaign_id"]) == (link["id"], campaign["id"])
    assert landed["recipient"] == RECIPIENT
    # The stored page is the one the visitor sees: the parameter is gone.
    assert all("ffl" not in str(value) for value in landed.values())
    assert rows["event"]["link_id"] == 0  # the conversion itself: attributed through its visit
