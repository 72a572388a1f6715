"""The dashboard's real-time view, version drill-downs, region and city tabs, page-path goals
and HTML error pages over a real app: numbers equal the query API's, links keep the view in
the URL, access control and escaping hold, and the API keeps its JSON errors."""

from __future__ import annotations

import gzip
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from footfall.dashboard.pages import CSP, PARTIAL_HEADER, STATIC_DIR
from tests.support.accounts import SITE, World, accounts_world
from tests.support.factories import custom_event, populate, visit
from tests.support.services import require

RANGE = {"period": "custom", "from": "2025-01-10", "to": "2025-01-20"}
START = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script>\"quoted\""
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as found:
        yield found


def _site_id(world: World) -> int:
    site = world.app.state.sites.lookup(SITE)
    assert site is not None
    return int(site.id)


def _v2(world: World, **fields: Any) -> list[dict[str, Any]]:
    body = {"site_id": SITE, "date_range": ["2025-01-10", "2025-01-20"], **fields}
    answer = world.client.post("/api/v2/query", json=body, headers=world.as_user("viewer"))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def _page(world: World, params: dict[str, str], user: str = "viewer") -> str:
    answer = world.client.get(f"/sites/{SITE}", params=params, headers=world.as_user(user))
    assert answer.status_code == 200, answer.text
    return answer.text


def _part(world: World, params: dict[str, str], panel: str, tab: str, user: str = "viewer") -> str:
    """One tab as the page's script fetches it when the tab is first opened."""
    headers = world.as_user(user) | {PARTIAL_HEADER: f"tab:{panel}/{tab}"}
    answer = world.client.get(f"/sites/{SITE}", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert "<html" not in answer.text
    return answer.text + '<div class="tabpanel"'  # _tab() reads up to the next tab


def _tab(page: str, panel: str, tab: str) -> str:
    """The HTML of one tab panel."""
    found = re.search(
        rf'<div class="tabpanel" id="tabpanel-{panel}-{tab}"(.*?)</div>\s*(?=<div class="tabpanel"|'
        r'<form|<p class="attribution"|</section>)',
        page,
        re.S,
    )
    assert found, f"no tab {panel}/{tab}"
    return found.group(1)


def _rows(fragment: str) -> list[tuple[str, str, list[str]]]:
    """(label, href, numbers) of each table row of a tab."""
    rows = []
    for body in re.findall(r"<tr>\s*<td class=\"bar-cell\">(.*?)</tr>", fragment, re.S):
        link = re.search(r'<a href="([^"]*)" title="[^"]*">([^<]*)</a>', body)
        if link:
            href, label = html.unescape(link.group(1)), html.unescape(link.group(2))
        else:
            href, label = "", html.unescape(re.sub(r"<[^>]+>", "", body.split("</td>")[0]).strip())
        numbers = [html.unescape(n) for n in re.findall(r'<td class="num">([^<]*)</td>', body)]
        rows.append((label, href, numbers))
    return rows


# -- real time -------------------------------------------------------------------------------


def _recent_traffic(world: World, now: datetime) -> None:
    site_id = _site_id(world)
    events = [
        *visit(1, now - timedelta(minutes=2), ["/now", "/pricing"], site_id=site_id),
        *visit(2, now - timedelta(minutes=3), ["/now"], site_id=site_id, country="DE"),
        *visit(3, now - timedelta(minutes=12), ["/" + HOSTILE], site_id=site_id),
        # Outside the last 30 minutes: in no number of the view.
        *visit(4, now - timedelta(minutes=50), ["/old"], site_id=site_id, country="FR"),
    ]
    populate(world.app.state.store, events)


def _minutes(page: str) -> list[tuple[str, int, int]]:
    table = page.split("<summary>Minutes as a table</summary>", 1)[1].split("</table>", 1)[0]
    return [
        (label, int(visitors), int(pageviews))
        for label, visitors, pageviews in re.findall(
            r'<tr><td>([0-9:]+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td></tr>',
            table,
        )
    ]


def _stat(page: str, metric: str) -> str:
    found = re.search(
        rf'data-metric="{metric}"[^>]*>\s*<span class="label">[^<]*</span>\s*'
        r'<span class="value">([^<]*)</span>',
        page,
    )
    assert found, f"no stat {metric}"
    return found.group(1)


def test_realtime_view_counts_the_last_30_minutes(world: World) -> None:
    now = datetime.now(UTC)
    _recent_traffic(world, now)
    page = _page(world, {"period": "realtime"})
    api = world.client.get(
        "/api/v1/realtime", params={"site": SITE}, headers=world.as_user("viewer")
    ).json()
    assert _stat(page, "current") == str(api["visitors"]) == "2"
    assert _stat(page, "visitors") == "3" and _stat(page, "pageviews") == "4"
    minutes = _minutes(page)
    assert len(minutes) == 30  # every minute, the empty ones as zeros
    # One pageview (of one visitor) in each of four minutes: 12, 3, 2 and 1 minute(s) ago.
    assert [(visitors, views) for _, visitors, views in minutes if views] == [(1, 1)] * 4
    # The last bucket is the current minute (or the next, when the clock turned meanwhile).
    assert minutes[-1][0] in {now.strftime("%H:%M"), (now + timedelta(minutes=1)).strftime("%H:%M")}
    top = _rows(_tab(page, "pages", "top"))
    assert top[0][:1] == ("/now",) and top[0][2] == ["2"]
    countries = {
        label: numbers for label, _, numbers in _rows(_tab(page, "locations", "countries"))
    }
    assert countries == {"US": ["2"], "DE": ["1"]} and "/old" not in page
    assert "<script>alert" not in page and str(escape("/" + HOSTILE)) in page
    # The per-minute chart: one group of bars per minute, as SVG attributes (no inline style).
    assert page.count('<g class="minute">') == 30
    assert ' style="' not in page and "<style" not in page


def test_realtime_rows_filter_and_stay_live(world: World) -> None:
    _recent_traffic(world, datetime.now(UTC))
    page = _page(world, {"period": "realtime"})
    [href] = [
        href for label, href, _ in _rows(_tab(page, "locations", "countries")) if label == "DE"
    ]
    assert "period=realtime" in href and "country=DE" in href
    filtered = world.client.get(f"/sites/{SITE}" + href, headers=world.as_user("viewer")).text
    assert _stat(filtered, "visitors") == "1" and _stat(filtered, "current") == "1"
    assert "country is <strong>DE</strong>" in filtered
    # The range selector offers realtime; the dashboard links to it, keeping the filters.
    assert '<option value="realtime" selected>Realtime</option>' in filtered
    dashboard = _page(world, {"period": "7d", "country": "DE"})
    link = re.search(r'<a class="realtime-link" href="([^"]*)">Realtime</a>', dashboard)
    assert link and html.unescape(link.group(1)) == "?period=realtime&country=DE"


def test_realtime_partial_is_the_live_part_only(world: World) -> None:
    _recent_traffic(world, datetime.now(UTC))
    headers = world.as_user("viewer") | {PARTIAL_HEADER: "realtime"}
    answer = world.client.get(f"/sites/{SITE}", params={"period": "realtime"}, headers=headers)
    assert answer.status_code == 200
    assert '<div id="realtime"' in answer.text and "<html" not in answer.text
    assert "<header" not in answer.text and 'data-current="2"' in answer.text
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["cache-control"] == "no-store"
    # The header asks for nothing else on other ranges: the whole dashboard comes back.
    whole = world.client.get(f"/sites/{SITE}", params={"period": "7d"}, headers=headers)
    assert "<html" in whole.text


def test_realtime_access_is_the_dashboards(world: World) -> None:
    params = {"period": "realtime"}
    anonymous = world.client.get(f"/sites/{SITE}", params=params, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next=/sites/{SITE}%3Fperiod%3Drealtime"
    outsider = world.client.get(
        f"/sites/{SITE}",
        params=params,
        headers=world.as_user("outsider") | {PARTIAL_HEADER: "realtime"},
    )
    assert outsider.status_code == 404 and 'id="realtime"' not in outsider.text
    created = world.client.post(
        f"/api/v1/sites/{SITE}/shared-links",
        json={"name": "Wall"},
        headers=world.as_user("analyst"),
    )
    token = created.json()["shared_link"]["url"].rsplit("/", 1)[1]
    _recent_traffic(world, datetime.now(UTC))
    shared = world.client.get(f"/share/{token}", params=params)
    assert shared.status_code == 200 and _stat(shared.text, "pageviews") == "4"
    assert "/logout" not in shared.text and "/settings" not in shared.text
    partial = world.client.get(
        f"/share/{token}", params=params, headers={PARTIAL_HEADER: "realtime"}
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert world.client.get("/share/not-a-token", params=params).status_code == 404


# -- devices, locations, goals ----------------------------------------------------------------


def _platforms(world: World) -> None:
    site_id = _site_id(world)
    platforms = [
        ("Chrome", "131.0", "Windows", "10", "US-CA", "San Francisco"),
        ("Chrome", "131.0", "Windows", "11", "US-CA", "Los Angeles"),
        ("Chrome", "130.0", "macOS", "14.5", "US-NY", "New York"),
        ("Firefox", "133.0", "Windows", "11", "", ""),
        ("Firefox", HOSTILE, "Linux", "", "DE-BE", HOSTILE),
    ]
    events = []
    for n, (browser, version, os, os_version, region, city) in enumerate(platforms):
        events += visit(
            10 + n,
            START + timedelta(hours=n),
            ["/", "/signup/done"] if n < 2 else ["/"],
            [custom_event("Signup")] if n in (0, 2) else [],
            site_id=site_id,
            browser=browser,
            browser_version=version,
            os=os,
            os_version=os_version,
            region=region,
            city=city,
        )
    populate(world.app.state.store, events)


def test_clicking_a_browser_shows_its_versions(world: World) -> None:
    _platforms(world)
    page = _page(world, RANGE)
    browsers = _rows(_tab(page, "devices", "browsers"))
    [(_, href, _)] = [row for row in browsers if row[0] == "Chrome"]
    assert href.endswith("#tabpanel-devices-browsers") and "browser=Chrome" in href
    drilled = world.client.get(
        f"/sites/{SITE}" + href.split("#")[0], headers=world.as_user("viewer")
    )
    tab = _tab(drilled.text, "devices", "browsers")
    assert ">Chrome versions<" in drilled.text
    expected = _v2(
        world,
        metrics=["visitors"],
        dimensions=["visit:browser_version"],
        filters=[["is", "visit:browser", ["Chrome"]]],
    )
    assert {row["dimensions"][0]: row["metrics"][0] for row in expected} == {"131.0": 2, "130.0": 1}
    rows = _rows(tab)
    assert [(label, numbers) for label, _, numbers in rows] == [
        ("Chrome 131.0", ["2"]),
        ("Chrome 130.0", ["1"]),
    ]
    # A version row filters by that version too, and the URL keeps both filters.
    version_href = rows[0][1]
    assert "browser=Chrome" in version_href and "browser_version=131.0" in version_href
    narrowed = world.client.get(
        f"/sites/{SITE}" + version_href.split("#")[0], headers=world.as_user("viewer")
    ).text
    assert _stat(narrowed, "visitors") == "2"
    assert "browser_version is <strong>131.0</strong>" in narrowed


def test_clicking_an_os_shows_its_versions_and_escapes_them(world: World) -> None:
    _platforms(world)
    page = _page(world, RANGE | {"os": "Windows"})
    rows = _rows(_tab(page, "devices", "os"))
    expected = _v2(
        world,
        metrics=["visitors"],
        dimensions=["visit:os_version"],
        filters=[["is", "visit:os", ["Windows"]]],
        order_by=[["visitors", "desc"], ["visit:os_version", "asc"]],
    )
    assert [(label, numbers) for label, _, numbers in rows] == [
        (f"Windows {row['dimensions'][0]}", [str(row["metrics"][0])]) for row in expected
    ]
    assert rows[0][0] == "Windows 11" and all(
        href.endswith("#tabpanel-devices-os") for _, href, _ in rows
    )
    hostile = _page(world, RANGE | {"browser": "Firefox"})
    assert "<script>alert" not in hostile
    assert str(escape(f"Firefox {HOSTILE}")) in _tab(hostile, "devices", "browsers")


def test_regions_and_cities_tabs_equal_the_query_api(world: World) -> None:
    _platforms(world)
    page = _page(world, RANGE)
    parts = {tab: _part(world, RANGE, "locations", tab) for tab in ("regions", "cities")}
    for tab, dimension in (("regions", "visit:region"), ("cities", "visit:city")):
        expected = _v2(
            world,
            metrics=["visitors"],
            dimensions=[dimension],
            filters=[["is_not", dimension, [""]]],
            order_by=[["visitors", "desc"], [dimension, "asc"]],
        )
        # Not the panel's first tab: the page leaves it for later, the part has its rows.
        assert not _rows(_tab(page, "locations", tab))
        rows = _rows(_tab(parts[tab], "locations", tab))
        assert [(label, numbers) for label, _, numbers in rows] == [
            (row["dimensions"][0], [str(row["metrics"][0])]) for row in expected
        ]
        assert "(none)" not in [label for label, _, _ in rows]  # unknown places are left out
    regions = _rows(_tab(parts["regions"], "locations", "regions"))
    assert regions[0][0] == "US-CA" and regions[0][2] == ["2"]
    filtered = world.client.get(
        f"/sites/{SITE}" + regions[0][1], headers=world.as_user("viewer")
    ).text
    assert _stat(filtered, "visitors") == "2" and "region is <strong>US-CA</strong>" in filtered
    city = _page(world, RANGE | {"city": "New York"})
    assert _stat(city, "visitors") == "1"
    assert str(escape(HOSTILE)) in _tab(parts["cities"], "locations", "cities")
    # DB-IP's licence: locations are credited where they are shown.
    assert '<a href="https://db-ip.com">IP Geolocation by DB-IP</a>' in page


def test_regions_tab_says_when_no_place_is_known(world: World) -> None:
    populate(
        world.app.state.store, visit(1, START, ["/"], site_id=_site_id(world), region="", city="")
    )
    regions = _part(world, RANGE, "locations", "regions")
    cities = _part(world, RANGE, "locations", "cities")
    assert "No visit of this period has a known region." in _tab(regions, "locations", "regions")
    assert "No visit of this period has a known city." in _tab(cities, "locations", "cities")


# Each panel's tabs after the first, as the page lists them.
LATER_TABS = {
    "sources": ["sources", "referrers", "utm_source", "utm_medium", "utm_campaign"],
    "pages": ["entry", "exit"],
    "locations": ["regions", "cities"],
    "devices": ["os", "devices"],
}


def test_page_queries_first_tabs_and_loads_each_other_tab_as_a_part(world: World) -> None:
    _platforms(world)
    page = _page(world, RANGE)
    every_tab = _page(world, RANGE | {"tabs": "all"})
    for panel, tabs in LATER_TABS.items():
        for tab in tabs:
            later = _tab(page, panel, tab)
            assert f'data-partial="tab:{panel}/{tab}"' in later and not _rows(later)
            # Without the script, its link opens the page with every tab.
            link = re.search(r'<p class="pending"><a href="([^"]*)">', later)
            assert link and "tabs=all" in link.group(1), later
            assert link.group(1).endswith(f"#tabpanel-{panel}-{tab}")
            part = _tab(_part(world, RANGE, panel, tab), panel, tab)
            assert "data-partial" not in part
            assert _rows(part) == _rows(_tab(every_tab, panel, tab))
    assert _rows(_tab(every_tab, "sources", "sources"))  # the parts above were not all empty
    # First tabs are in the page itself.
    for panel, tab in (("sources", "channels"), ("pages", "top"), ("locations", "countries")):
        assert _rows(_tab(page, panel, tab)) == _rows(_tab(every_tab, panel, tab))


def test_tab_parts_keep_the_view_and_its_access_rules(world: World) -> None:
    _platforms(world)
    filtered = RANGE | {"browser": "Firefox"}
    part = _tab(_part(world, filtered, "sources", "sources"), "sources", "sources")
    expected = _v2(
        world,
        metrics=["visitors"],
        dimensions=["visit:source"],
        filters=[["is", "visit:browser", ["Firefox"]]],
    )
    assert [(label, numbers) for label, _, numbers in _rows(part)] == [
        (row["dimensions"][0], [str(row["metrics"][0])]) for row in expected
    ]
    headers = world.as_user("viewer") | {PARTIAL_HEADER: "tab:sources/nothing"}
    unknown = world.client.get(f"/sites/{SITE}", params=RANGE, headers=headers)
    assert unknown.status_code == 404
    outsider = world.as_user("outsider") | {PARTIAL_HEADER: "tab:sources/sources"}
    assert world.client.get(f"/sites/{SITE}", params=RANGE, headers=outsider).status_code == 404
    anonymous = {PARTIAL_HEADER: "tab:sources/sources"}
    answer = world.client.get(
        f"/sites/{SITE}", params=RANGE, headers=anonymous, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def _goal(world: World, **body: str) -> None:
    answer = world.client.post(
        f"/api/v1/sites/{SITE}/goals", json=body, headers=world.as_user("analyst")
    )
    assert answer.status_code == 201, answer.text


def test_goals_panel_shows_page_goals_next_to_event_goals(world: World) -> None:
    _platforms(world)
    _goal(world, event_name="Signup")
    _goal(world, page_path="/signup/*")
    _goal(world, page_path="/never-visited")
    page = _page(world, RANGE)
    rows = _rows(_tab(page, "goals", "goals"))
    total = _v2(world, metrics=["visitors"])[0]["metrics"][0]
    page_goal = _v2(
        world,
        metrics=["visitors", "events"],
        filters=[
            ["is", "event:name", ["pageview"]],
            ["matches", "event:page", ["^/signup/[^/]*$"]],
        ],
    )[0]["metrics"]
    assert page_goal == [2, 2] and total == 5
    report = world.client.get(
        "/api/v1/reports/conversions",
        params={"site": SITE, "start_date": "2025-01-10", "end_date": "2025-01-20"},
        headers=world.as_user("viewer"),
    ).json()["data"]["conversion_types"]
    assert report == {"Signup": 2, "Visit /signup/*": 2}
    assert [(label, numbers) for label, _, numbers in rows] == [
        ("Signup", ["2", "2", "40%"]),
        ("Visit /signup/*", ["2", "2", "40%"]),
    ]
    assert ">Conversions<" in _tab(page, "goals", "goals")
    # Clicking a page goal keeps the visits that reached it (the pattern stays in the URL).
    href = rows[1][1]
    assert "page_goal=%2Fsignup%2F%2A" in href
    filtered = world.client.get(f"/sites/{SITE}" + href, headers=world.as_user("viewer")).text
    assert _stat(filtered, "visitors") == "2" and _stat(filtered, "pageviews") == "2"
    assert "page_goal is <strong>/signup/*</strong>" in filtered


# -- error pages -----------------------------------------------------------------------------


def _error_page(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == CSP
    assert '<link rel="stylesheet" href="/dashboard/static/dashboard.css">' in answer.text
    assert f"Error {status}" in answer.text and "<style" not in answer.text
    text: str = answer.text
    return text


def test_browsers_get_html_error_pages_on_dashboard_routes(world: World) -> None:
    viewer = world.as_user("viewer") | BROWSER
    missing = _error_page(world.client.get("/sites/nowhere.example", headers=viewer), 404)
    assert "Page not found" in missing and "No site &#39;nowhere.example&#39;" in missing
    assert ">viewer</span>" in missing and 'href="/sites"' in missing  # the dashboard's header
    hidden = world.client.get(f"/sites/{SITE}", headers=world.as_user("outsider") | BROWSER)
    assert "not shared with you" in _error_page(hidden, 404)
    refused = world.client.get(f"/sites/{SITE}/settings", headers=viewer)
    assert "Not allowed" in _error_page(refused, 403)
    mistyped = world.client.get(f"/sites/{SITE}/no-such-page", headers=viewer)
    _error_page(mistyped, 404)
    malformed = world.client.get(
        f"/sites/{SITE}/campaigns/not-a-number", headers=world.as_user("analyst") | BROWSER
    )
    _error_page(malformed, 400)
    hostile = world.client.get("/sites/" + HOSTILE.replace("/", ""), headers=viewer)
    assert "<script>alert" not in _error_page(hostile, 404)
    shared = world.client.get("/share/no-such-token", headers=BROWSER)
    assert "shared link does not exist" in _error_page(shared, 404)
    assert "Log in" in shared.text and "/logout" not in shared.text


def test_api_routes_and_non_browsers_keep_json_errors(world: World) -> None:
    viewer = world.as_user("viewer")
    api = world.client.get("/api/v1/sites/nowhere.example", headers=viewer | BROWSER)
    assert api.status_code == 404 and api.json()["error"]["code"] == "site_not_found"
    script = world.client.get("/sites/nowhere.example", headers=viewer)  # Accept: */*
    assert script.status_code == 404 and script.json()["error"]["code"] == "site_not_found"
    static = world.client.get("/dashboard/static/missing.js", headers=BROWSER)
    assert static.status_code == 404 and static.json()["status"] == "error"
    legacy = world.client.get("/admin/campaigns/999999", headers=viewer | BROWSER)
    assert legacy.headers["content-type"].startswith("application/json")
    # The login redirect stays a redirect.
    anonymous = world.client.get(f"/sites/{SITE}", headers=BROWSER, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


# -- transfer size ---------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["30d", "realtime"])
def test_page_script_and_styles_stay_under_150_kb_gzipped(world: World, period: str) -> None:
    require((STATIC_DIR / "dashboard.js").is_file(), "the frontend is not built (make frontend)")
    _platforms(world)
    _recent_traffic(world, datetime.now(UTC))
    page = world.client.get(
        f"/sites/{SITE}", params={"period": period}, headers=world.as_user("admin")
    )
    assets = [
        world.client.get(f"/dashboard/static/{name}") for name in ("dashboard.js", "dashboard.css")
    ]
    total = sum(len(gzip.compress(answer.content, 9)) for answer in [page, *assets])
    assert all(answer.status_code == 200 for answer in [page, *assets])
    assert total < 150 * 1024, f"{total} bytes gzipped"
    # And they do go out gzipped.
    assert all(answer.headers["content-encoding"] == "gzip" for answer in [page, *assets])
