"""The dashboard in a real browser against a real `footfall serve` filled by `footfall demo`:
log in, panel numbers equal POST /api/v2/query's, filter by a click, change the range, go back,
watch the live counter, export CSV, hostile values render as text, the real-time view updating
in place, browser and OS version drill-downs, region and city tabs, page-path goals and the
HTML error page; screenshots at two widths (tests/output)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, expect

from footfall.dashboard.pages import STATIC_DIR
from tests.e2e.conftest import OUTPUT_DIR, Tab, desktop_user_agent
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
    env = {
        "FOOTFALL_ADMIN_USER": ADMIN,
        "FOOTFALL_ADMIN_PASSWORD": PASSWORD,
        # The real-time test watches an event arrive within 3 s. The writer holds a lone event
        # for its flush interval (1 s by default) before enriching and storing it, which alone
        # took 1 to 3 s on a busy 2-core machine; a shorter interval keeps that part small.
        "FOOTFALL_FLUSH_INTERVAL": "0.25",
    }
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


def _sources(server: LiveServer, token: str) -> list[dict[str, Any]]:
    """Visitors by source, in the dashboard's order (most first, then by name)."""
    order = [["visitors", "desc"], ["visit:source", "asc"]]
    return _v2(server, token, metrics=["visitors"], dimensions=["visit:source"], order_by=order)


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

    sources = _sources(server, token)
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


def test_pdf_report_from_the_dashboard(tab: Tab, server: LiveServer, token: str) -> None:
    require(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed")
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    with tab.page.expect_download() as started:
        tab.page.get_by_role("link", name="PDF report").click()
    report = Path(started.value.path())
    assert report.read_bytes().startswith(b"%PDF")
    # Its pages render (kept with the screenshots for review) and carry the view's numbers.
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", str(report), str(OUTPUT_DIR / "report-page")], check=True
    )
    assert len(list(OUTPUT_DIR.glob("report-page*.png"))) >= 2
    text = subprocess.run(
        ["pdftotext", "-layout", str(report), "-"], check=True, capture_output=True, text=True
    ).stdout
    top = _sources(server, token)[0]
    assert SITE in text
    assert re.search(rf"{re.escape(top['dimensions'][0])}\s+{top['metrics'][0]:,}\b", text), text


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
    # A tab fetched when opened goes through the same escaping.
    tab.page.get_by_role("tab", name="UTM campaign").click()
    expect(tab.page.locator("#tabpanel-sources-utm_campaign")).to_contain_text(HOSTILE)
    assert dialogs == [] and tab.errors == []
    assert tab.page.locator("img[src=x]").count() == 0


def _panel_screenshot(tab: Tab, selector: str, name: str) -> None:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    tab.page.locator(selector).screenshot(path=str(OUTPUT_DIR / f"{name}.png"))


def test_realtime_view_shows_a_new_event_without_reloading(tab: Tab, server: LiveServer) -> None:
    violations = _csp_violations(tab)
    page = tab.page
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    page.get_by_role("link", name="Realtime", exact=True).click()
    page.wait_for_url(re.compile(r".*period=realtime"))
    expect(page.get_by_label("Date range")).to_have_value("realtime")
    expect(page.locator("#realtime svg.minutes g.minute")).to_have_count(30)
    tab.screenshot("realtime-desktop")

    # Watch one new page, so that no other traffic (or the window moving on) changes the
    # numbers looked at: the view keeps its filter in the URL like the dashboard.
    path = f"/live-{uuid.uuid4().hex[:10]}"
    page.goto(f"{server.url}/sites/{SITE}?period=realtime&page={path}")
    pageviews = page.locator('#realtime .stat[data-metric="pageviews"] .value')
    expect(pageviews).to_have_text("0")
    page.evaluate("window.sameDocument = true")
    page.get_by_text("Minutes as a table").click()
    sent = httpx.post(
        f"{server.url}/api/event",
        json={"n": "pageview", "u": f"http://{SITE}{path}", "d": SITE},
        headers={"user-agent": desktop_user_agent("127.0")},
    )
    assert sent.status_code == 202
    expect(pageviews).to_have_text("1", timeout=3000)
    expect(page.locator("#tabpanel-pages-top")).to_contain_text(path)
    expect(page.locator("#current-visitors")).to_have_text("1")
    assert page.evaluate("window.sameDocument") is True  # updated in place, not reloaded
    expect(page.locator("#realtime details")).to_have_attribute("open", "")  # still open

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/sites/{SITE}?period=realtime")
    expect(page.locator("#realtime")).to_be_visible()
    tab.screenshot("realtime-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert violations == [] and tab.errors == []


def _top(server: LiveServer, token: str, dimension: str, **fields: Any) -> dict[str, Any]:
    rows = _v2(
        server,
        token,
        metrics=["visitors"],
        dimensions=[dimension],
        order_by=[["visitors", "desc"], [dimension, "asc"]],
        **fields,
    )
    assert rows, f"no {dimension} in the demo data"
    return rows[0]


def test_browser_and_os_drill_down_to_versions(tab: Tab, server: LiveServer, token: str) -> None:
    page = tab.page
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    browser = _top(server, token, "visit:browser")["dimensions"][0]
    page.locator("#tabpanel-devices-browsers tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*browser=.*#tabpanel-devices-browsers$"))
    version = _top(
        server, token, "visit:browser_version", filters=[["is", "visit:browser", [browser]]]
    )
    versions_tab = page.get_by_role("tab", name=f"{browser} versions")
    expect(versions_tab).to_have_attribute("aria-selected", "true")
    first = page.locator("#tabpanel-devices-browsers tbody tr").first
    expect(first.get_by_role("link")).to_have_text(f"{browser} {version['dimensions'][0]}")
    expect(first.locator("td.num")).to_have_text(f"{version['metrics'][0]:,}")
    _panel_screenshot(tab, "#panel-devices", "devices-browser-versions")
    page.go_back()
    page.wait_for_url(re.compile(r"^(?!.*browser=).*$"))
    expect(page.get_by_role("tab", name="Browsers")).to_be_visible()

    system = _top(server, token, "visit:os")["dimensions"][0]
    page.get_by_role("tab", name="Operating systems").click()
    page.locator("#tabpanel-devices-os tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*os=.*#tabpanel-devices-os$"))
    os_version = _top(server, token, "visit:os_version", filters=[["is", "visit:os", [system]]])
    # The link's anchor opens the operating systems tab, now listing the versions.
    expect(page.get_by_role("tab", name=f"{system} versions")).to_have_attribute(
        "aria-selected", "true"
    )
    first = page.locator("#tabpanel-devices-os tbody tr").first
    expect(first.get_by_role("link")).to_have_text(f"{system} {os_version['dimensions'][0]}")
    expect(first.locator("td.num")).to_have_text(f"{os_version['metrics'][0]:,}")
    expect(page.locator(".filters")).to_contain_text(system)
    assert tab.errors == []


def test_region_and_city_tabs_and_page_goals(tab: Tab, server: LiveServer, token: str) -> None:
    for goal in ({"page_path": "/signup"}, {"event_name": "Signup"}):
        created = httpx.post(
            f"{server.url}/api/v1/sites/{SITE}/goals",
            json=goal,
            headers={"authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
    page = tab.page
    _log_in(tab, server, f"/sites/{SITE}?period=7d")
    for name, dimension in (("Regions", "visit:region"), ("Cities", "visit:city")):
        top = _top(server, token, dimension, filters=[["is_not", dimension, [""]]])
        page.get_by_role("tab", name=name).click()
        first = page.locator(f"#tabpanel-locations-{name.lower()} tbody tr").first
        expect(first.get_by_role("link")).to_have_text(str(top["dimensions"][0]))
        expect(first.locator("td.num")).to_have_text(f"{top['metrics'][0]:,}")
    _panel_screenshot(tab, "#panel-locations", "locations-cities")

    reached = _v2(
        server,
        token,
        metrics=["visitors", "events"],
        filters=[["is", "event:name", ["pageview"]], ["matches", "event:page", ["^/signup$"]]],
    )[0]["metrics"]
    assert reached[0] > 0
    row = page.locator("#tabpanel-goals-goals tbody tr", has_text="Visit /signup")
    expect(row.locator("td.num").nth(0)).to_have_text(f"{reached[0]:,}")
    expect(row.locator("td.num").nth(1)).to_have_text(f"{reached[1]:,}")
    expect(page.locator("#tabpanel-goals-goals tbody tr", has_text="Signup")).not_to_have_count(0)
    _panel_screenshot(tab, "#panel-goals", "goals-with-page-goal")
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*page_goal=%2Fsignup"))
    assert _stat(tab, "visitors") == f"{reached[0]:,}"
    assert tab.errors == []


def test_missing_site_gets_an_html_error_page(tab: Tab, server: LiveServer) -> None:
    violations = _csp_violations(tab)
    _log_in(tab, server, "/sites")
    answer = tab.page.goto(f"{server.url}/sites/missing.localhost")
    assert answer is not None and answer.status == 404
    expect(tab.page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(tab.page.locator(".error-page")).to_contain_text("missing.localhost")
    expect(tab.page.get_by_role("link", name="Back to your sites")).to_be_visible()
    tab.screenshot("error-not-found")
    assert violations == [] and tab.errors == []
