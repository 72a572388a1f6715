"""The dashboard pages over a real app: numbers equal the query API's, filters, escaping, CSP,
access control, the shared-link view, the site list and the static bundle."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from footfall.dashboard.pages import PARTIAL_HEADER, STATIC_DIR
from tests.support.accounts import SITE, World, accounts_world
from tests.support.factories import custom_event, populate, visit

START = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
RANGE = {"period": "custom", "from": "2025-01-10", "to": "2025-01-20"}
HOSTILE = "<script>alert('x')</script>\"quoted\""


def _traffic(site_id: int) -> list[Any]:
    events: list[Any] = []
    for n in range(6):
        events += visit(
            100 + n,
            START + timedelta(hours=n),
            ["/", "/pricing"] if n % 2 else ["/"],
            referrer_source="Google",
            channel="Organic Search",
            site_id=site_id,
        )
    for n in range(3):
        events += visit(
            200 + n,
            START + timedelta(days=1, hours=n),
            ["/blog/" + HOSTILE],
            [custom_event("Signup", props_keys=["plan"], props_values=[HOSTILE])],
            referrer_source="Facebook",
            channel="Organic Social",
            referrer="https://facebook.com/" + HOSTILE,
            utm_campaign=HOSTILE,
            site_id=site_id,
        )
    return events


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as world:
        site = world.app.state.sites.lookup(SITE)
        populate(world.app.state.store, _traffic(site.id))
        yield world


def _stat(page: str, metric: str) -> str:
    found = re.search(
        rf'data-metric="{metric}"[^>]*>\s*<span class="label">[^<]*</span>\s*'
        r'<span class="value">([^<]*)</span>',
        page,
    )
    assert found, f"no stat {metric}"
    return found.group(1)


def _v2(world: World, **fields: Any) -> list[dict[str, Any]]:
    body = {"site_id": SITE, "date_range": ["2025-01-10", "2025-01-20"], **fields}
    answer = world.client.post("/api/v2/query", json=body, headers=world.as_user("viewer"))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_top_stats_equal_the_query_api(world: World) -> None:
    page = world.client.get(f"/sites/{SITE}", params=RANGE, headers=world.as_user("viewer"))
    assert page.status_code == 200, page.text
    metrics = ["visitors", "visits", "pageviews", "bounce_rate"]
    expected = _v2(world, metrics=metrics)[0]["metrics"]
    assert expected[0] == 9
    assert _stat(page.text, "visitors") == f"{expected[0]:,}"
    assert _stat(page.text, "visits") == f"{expected[1]:,}"
    assert _stat(page.text, "pageviews") == f"{expected[2]:,}"
    assert _stat(page.text, "bounce_rate") == f"{expected[3]:g}%"


def test_panel_rows_link_to_a_filtered_view_with_the_api_numbers(world: World) -> None:
    headers = world.as_user("viewer")
    # Every tab, as the no-script link asks for (the sources tab is not the panel's first).
    every_tab = RANGE | {"tabs": "all"}
    page = world.client.get(f"/sites/{SITE}", params=every_tab, headers=headers).text
    sources = _v2(world, metrics=["visitors"], dimensions=["visit:source"])
    assert {row["dimensions"][0]: row["metrics"][0] for row in sources} == {
        "Google": 6,
        "Facebook": 3,
    }
    link = re.search(r'<a href="(\?[^"]*source=Google[^"]*)" title="Filter by Google"', page)
    assert link, "no filter link on the Google row"
    filtered = world.client.get(f"/sites/{SITE}" + html.unescape(link.group(1)), headers=headers)
    assert filtered.status_code == 200
    assert _stat(filtered.text, "visitors") == "6"
    assert "source is <strong>Google</strong>" in filtered.text
    # The filter survives a change of the date range form (carried as a hidden field).
    assert '<input type="hidden" name="source" value="Google">' in filtered.text


def test_hostile_paths_referrers_utm_and_props_render_as_text(world: World) -> None:
    headers = world.as_user("viewer")
    params = RANGE | {"prop": "plan", "tabs": "all"}
    page = world.client.get(f"/sites/{SITE}", params=params, headers=headers).text
    assert "<script>alert" not in page
    assert page.count(str(escape(HOSTILE))) >= 3  # utm campaign, prop value, page path
    assert str(escape("https://facebook.com/" + HOSTILE)) in page
    assert str(escape("/blog/" + HOSTILE)) in page


def test_pages_carry_a_strict_csp_and_no_inline_code(world: World) -> None:
    page = world.client.get(f"/sites/{SITE}", params=RANGE, headers=world.as_user("viewer"))
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<style" not in page.text and " style=" not in page.text
    for tag in re.findall(r"<script[^>]*>", page.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " on" not in " ".join(re.findall(r"<[a-z]+ [^>]*>", page.text)).replace(" one", "")


def test_dashboard_needs_a_login_and_a_grant(world: World) -> None:
    anonymous = world.client.get(f"/sites/{SITE}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next=/sites/{SITE}"
    with_filters = world.client.get(
        f"/sites/{SITE}?period=7d&f=visit:source", follow_redirects=False
    )
    # the page's query string survives the login (encoded inside `next`)
    assert with_filters.headers["location"] == (
        f"/login?next=/sites/{SITE}%3Fperiod%3D7d%26f%3Dvisit%3Asource"
    )
    outsider = world.client.get(f"/sites/{SITE}", headers=world.as_user("outsider"))
    assert outsider.status_code == 404


def test_shared_link_shows_the_read_only_dashboard(world: World) -> None:
    created = world.client.post(
        f"/api/v1/sites/{SITE}/shared-links",
        json={"name": "Board"},
        headers=world.as_user("analyst"),
    )
    assert created.status_code == 201, created.text
    url = created.json()["shared_link"]["url"]
    token = url.rsplit("/", 1)[1]
    page = world.client.get(f"/share/{token}", params=RANGE)
    assert page.status_code == 200, page.text
    assert _stat(page.text, "visitors") == "9"
    assert "/logout" not in page.text and 'href="/sites' not in page.text
    assert f"auth={token}" in page.text  # the live counter's stream authenticates as the link
    # A tab left for later loads through the link too, read-only like the page.
    sources = world.client.get(
        f"/share/{token}", params=RANGE, headers={PARTIAL_HEADER: "tab:sources/sources"}
    )
    assert sources.status_code == 200, sources.text
    assert 'title="Filter by Google"' in sources.text and "<html" not in sources.text


def test_site_list_and_home(world: World) -> None:
    home = world.client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/sites"
    anonymous = world.client.get("/sites", follow_redirects=False)
    assert anonymous.status_code == 303
    page = world.client.get("/sites", headers=world.as_user("viewer"))
    assert page.status_code == 200
    assert f'href="/sites/{SITE}"' in page.text
    assert "other.com" not in page.text
    assert re.search(r'<polyline [^>]*points="[0-9., ]+"', page.text)


def test_static_bundle_is_served_when_built(world: World) -> None:
    missing = world.client.get("/dashboard/static/../settings.py")
    assert missing.status_code == 404
    if not (STATIC_DIR / "dashboard.js").is_file():
        pytest.skip("the frontend is not built (make frontend)")
    script = world.client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert (
        "uPlot" in script.text
        or "u-legend" in world.client.get("/dashboard/static/dashboard.css").text
    )
