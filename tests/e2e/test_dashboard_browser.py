"""The dashboard in a real browser against a real `footfall serve` filled by `footfall demo`:
log in, panel numbers equal POST /api/v2/query's, filter by a click, change the range, go back,
watch the live counter, export CSV, hostile values render as text; screenshots at two widths."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, expect

from footfall.dashboard.pages import STATIC_DIR
from tests.e2e.conftest import Tab, desktop_user_agent
from tests.support.server import LiveServer
from tests.support.services import require

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, PASSWORD = "root", "first admin passphrase"
SITE = "demo.localhost"
HOSTILE = "<img src=x onerror=alert(1)>\"'"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require(
        STATIC_DIR.joinpath("dashboard.js").is_file(), "dashboard bundle not built (make frontend)"
    )
    env = {"FOOTFALL_ADMIN_USER": ADMIN, "FOOTFALL_ADMIN_PASSWORD": PASSWORD}
    live = LiveServer(tmp_path_factory.mktemp("dashboard") / "data", env=env)
    live.start()
    live.stop()
    # The demo generator writes straight into the event store, so only while the server is down.
    live.run_cli("demo", "--events", "4000", "--days", "7", "--seed", "11", "--site", SITE)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/authenticate", json={"username": ADMIN, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["token"]
    return value


def _v2(server: LiveServer, token: str, **fields: Any) -> list[dict[str, Any]]:
    body = {"site_id": SITE, "date_range": "7d", **fields}
    answer = httpx.post(
        f"{server.url}/api/v2/query", json=body, headers={"authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def _log_in(tab: Tab, server: LiveServer, path: str) -> None:
    tab.page.goto(f"{server.url}{path}")
    tab.page.get_by_label("Username").fill(ADMIN)
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Log in").click()
    # The login page returns to the page asked for, query string (filters, dates) included.
    tab.page.wait_for_url(f"{server.url}{path}")


def _stat(tab: Tab, metric: str) -> str:
    return tab.page.locator(f'.stat[data-metric="{metric}"] .value').inner_text()


def _csp_violations(tab: Tab) -> list[str]:
    found: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    tab.page.on("console", listen)
    return found


def test_dashboard_numbers_filters_range_and_history(
    tab: Tab, server: LiveServer, token: str
) -> None:
    violations = _csp_violations(tab)
    page = tab.page
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    totals = _v2(server, token, metrics=["visitors", "visits", "pageviews"])[0]["metrics"]
    assert totals[0] > 0
    assert _stat(tab, "visitors") == f"{totals[0]:,}"
    assert _stat(tab, "pageviews") == f"{totals[2]:,}"
    expect(page.locator("#chart canvas")).to_have_count(1)  # uPlot drew the graph

    sources = _v2(
        server,
        token,
        metrics=["visitors"],
        dimensions=["visit:source"],
        order_by=[["visitors", "desc"], ["visit:source", "asc"]],
    )
    page.get_by_role("tab", name="Sources").click()
    first = page.locator("#tabpanel-sources-sources tbody tr").first
    assert first.locator("td.num").inner_text() == f"{sources[0]['metrics'][0]:,}"
    name = sources[0]["dimensions"][0]
    tab.screenshot("dashboard-desktop")

    first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*source="))
    filtered = _v2(server, token, metrics=["visitors"], filters=[["is", "visit:source", [name]]])[
        0
    ]["metrics"][0]
    assert _stat(tab, "visitors") == f"{filtered:,}"
    expect(page.locator(".filters")).to_contain_text(name)

    page.get_by_label("Date range").select_option("28d")  # submits by itself
    page.wait_for_url(re.compile(r".*period=28d.*"))
    expect(page.locator(".filters")).to_contain_text(name)  # the filter stays on
    page.go_back()
    page.wait_for_url(re.compile(r"^(?!.*period=28d).*source=.*$"))
    assert _stat(tab, "visitors") == f"{filtered:,}"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    tab.screenshot("dashboard-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert violations == [] and tab.errors == []


def test_live_counter_sees_a_new_visitor(tab: Tab, server: LiveServer) -> None:
    _log_in(tab, server, f"/sites/{SITE}")
    counter = tab.page.locator("#current-visitors")
    expect(counter).to_have_text(re.compile(r"^\d+$"))
    before = int(counter.inner_text())
    for n in range(3):
        sent = httpx.post(
            f"{server.url}/api/event",
            json={"n": "pageview", "u": f"http://{SITE}/live", "d": SITE},
            headers={"user-agent": desktop_user_agent(f"{120 + n}.0")},
        )
        assert sent.status_code == 202
    # The stream sends every 5 seconds; a reload starts a new one at once.
    tab.page.wait_for_timeout(1500)
    tab.page.reload()
    expect(counter).to_have_text(re.compile(r"^\d+$"))
    assert int(counter.inner_text()) >= before + 3


def test_csv_export_from_the_dashboard(tab: Tab, server: LiveServer, token: str) -> None:
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    with tab.page.expect_download() as started:
        tab.page.get_by_role("link", name="Export CSV").click()
    path = started.value.path()
    archive = zipfile.ZipFile(Path(path))
    rows = list(csv.DictReader(io.StringIO(archive.read("channels.csv").decode())))
    expected = _v2(server, token, metrics=["visitors"], dimensions=["visit:channel"])
    assert {row["visit:channel"]: int(row["visitors"]) for row in rows} == {
        row["dimensions"][0]: row["metrics"][0] for row in expected
    }


def test_hostile_values_render_as_text(tab: Tab, server: LiveServer) -> None:
    sent = httpx.post(
        f"{server.url}/api/event",
        json={
            "n": "Hostile",
            "u": f"http://{SITE}/x?utm_campaign={HOSTILE}",
            "d": SITE,
            "r": f"https://evil.example/{HOSTILE}",
            "p": {"kind": HOSTILE},
        },
        headers={"user-agent": desktop_user_agent("125.0")},
    )
    assert sent.status_code == 202
    dialogs: list[str] = []
    tab.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _log_in(tab, server, f"/sites/{SITE}?period=day&prop=kind")
    tab.page.wait_for_timeout(1500)  # the writer flushes within a second
    tab.page.reload()
    expect(tab.page.locator("#tabpanel-props-props")).to_contain_text(HOSTILE)
    expect(tab.page.locator("#tabpanel-sources-utm_campaign")).to_contain_text(HOSTILE)
    assert dialogs == [] and tab.errors == []
    assert tab.page.locator("img[src=x]").count() == 0
