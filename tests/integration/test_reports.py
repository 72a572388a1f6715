"""The report endpoints over HTTP: shapes of API.md section 2, the /analytics hour window,
CSV, goals, real time and who may call them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.enrich.channels import ORGANIC_SEARCH, PAID_SEARCH, PAID_SOCIAL
from tests.support.accounts import World, accounts_world
from tests.support.app import wait_rows
from tests.support.factories import conversion, custom_event, pageview, populate

JULY = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as built:
        yield built


def site_id(world: World, domain: str = "example.com") -> int:
    info = world.app.state.sites.lookup(domain)
    assert info is not None
    return int(info.id)


def test_traffic_report_shape_and_numbers(world: World) -> None:
    sid = site_id(world)
    rows = [
        pageview(site_id=sid, visitor_id=1, session_id=1, ts=JULY),
        pageview(site_id=sid, visitor_id=1, session_id=1, ts=JULY + timedelta(minutes=1)),
        pageview(
            site_id=sid,
            visitor_id=2,
            session_id=2,
            ts=JULY,
            channel=ORGANIC_SEARCH,
            referrer_source="Google",
        ),
        pageview(site_id=sid, visitor_id=3, session_id=3, ts=JULY, channel=PAID_SEARCH),
        pageview(
            site_id=sid,
            visitor_id=3,
            session_id=4,
            ts=JULY + timedelta(hours=2),
            channel=PAID_SOCIAL,
        ),
        pageview(site_id=sid, visitor_id=9, session_id=9, ts=JULY + timedelta(days=40)),
    ]
    populate(world.app.state.store, rows)
    response = world.client.get(
        "/api/v1/reports/traffic",
        params={"site": "example.com", "start_date": "2024-07-01", "end_date": "2024-07-31"},
        headers=world.as_user("viewer"),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "success",
        "data": {
            "total_visitors": 3,
            "total_page_views": 5,
            # Visitor 3 had a Paid Search and a Paid Social visit: one paid visitor.
            "traffic_sources": {
                "direct": 1,
                "referral": 0,
                "search": 1,
                "social": 0,
                "email": 0,
                "paid": 1,
            },
        },
    }


def test_conversions_report_with_goals_and_revenue(world: World) -> None:
    sid = site_id(world)
    for goal in ({"event_name": "Signup"}, {"page_path": "/thanks*"}):
        created = world.client.post(
            "/api/v1/sites/example.com/goals", json=goal, headers=world.as_user("analyst")
        )
        assert created.status_code == 201, created.text
    rows = [pageview(site_id=sid, visitor_id=v, session_id=v, ts=JULY) for v in range(1, 9)]
    rows += [
        conversion("purchase", "10.25", "usd", site_id=sid, visitor_id=1, session_id=1, ts=JULY),
        conversion("purchase", "5", "USD", site_id=sid, visitor_id=1, session_id=1, ts=JULY),
        conversion("purchase", "3.10", "EUR", site_id=sid, visitor_id=2, session_id=2, ts=JULY),
        custom_event("Signup", site_id=sid, visitor_id=3, session_id=3, ts=JULY),
        custom_event("Other", site_id=sid, visitor_id=4, session_id=4, ts=JULY),
        pageview(site_id=sid, visitor_id=5, session_id=5, ts=JULY, pathname="/thanks-a-lot"),
    ]
    populate(world.app.state.store, rows)
    response = world.client.get(
        "/api/v1/reports/conversions",
        params={"site": "example.com", "start_date": "2024-07-01", "end_date": "2024-07-31"},
        headers=world.as_user("viewer"),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "success",
        "data": {
            "total_conversions": 5,
            # Visitors 1, 2, 3 and 5 of 8 converted.
            "conversion_rate": 50.0,
            "conversion_types": {"purchase": 3, "Signup": 1, "Visit /thanks*": 1},
            "revenue": {"USD": "15.25", "EUR": "3.10"},
        },
    }
    listed = world.client.get("/api/v1/sites/example.com/goals", headers=world.as_user("viewer"))
    assert [goal["display_name"] for goal in listed.json()["goals"]] == [
        "Signup",
        "Visit /thanks*",
    ]


def test_goals_need_an_analyst_and_valid_input(world: World) -> None:
    url = "/api/v1/sites/example.com/goals"
    denied = world.client.post(url, json={"event_name": "x"}, headers=world.as_user("viewer"))
    assert denied.status_code == 403
    hidden = world.client.post(
        url, json={"event_name": "x"}, headers=world.as_user("analyst_elsewhere")
    )
    assert hidden.status_code == 404
    both = world.client.post(
        url, json={"event_name": "x", "page_path": "/y"}, headers=world.as_user("analyst")
    )
    assert both.status_code == 400
    assert both.json()["status"] == "error"
    made = world.client.post(url, json={"event_name": "x"}, headers=world.as_user("analyst"))
    again = world.client.post(url, json={"event_name": "x"}, headers=world.as_user("analyst"))
    assert again.status_code == 409
    goal_id = made.json()["id"]
    gone = world.client.delete(f"{url}/{goal_id}", headers=world.as_user("analyst"))
    assert gone.status_code == 204
    assert world.client.get(url, headers=world.as_user("viewer")).json() == {"goals": []}


def _analytics(world: World, timestamp: int, **headers: str) -> Any:
    return world.client.get(
        "/analytics",
        params={"timestamp": timestamp, "site": "example.com"},
        headers={**world.as_user("viewer"), **headers},
    )


def test_analytics_hour_window_boundaries(world: World) -> None:
    base = 1_224_567_999
    posts = [
        (base - 3601, "1", "click"),  # one second too early
        (base - 3600, "1", "click"),  # first second of the window
        (base - 10, "2", "impression"),
        (base, "2", "click"),  # last second of the window
        (base + 1, "3", "click"),  # one second too late
    ]
    for timestamp, user, event in posts:
        sent = world.client.post(
            "/analytics",
            params={"timestamp": timestamp, "user": user, "event": event, "site": "example.com"},
        )
        assert sent.status_code == 204, sent.text
    wait_rows(world.app, len(posts), "name IN ('click', 'impression')")
    text = _analytics(world, base)
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "unique_users,2\nclicks,2\nimpressions,1"
    as_json = _analytics(world, base, accept="application/json")
    assert as_json.json() == {"unique_users": 2, "clicks": 2, "impressions": 1}
    later = _analytics(world, base + 3600, accept="application/json")
    assert later.json() == {"unique_users": 2, "clicks": 2, "impressions": 0}
    earlier = _analytics(world, base - 3600, accept="application/json")
    assert earlier.json() == {"unique_users": 1, "clicks": 2, "impressions": 0}
    assert world.client.get("/analytics", params={"timestamp": "soon"}).status_code in {400, 401}
    bad = _analytics(world, -5)
    assert bad.status_code == 400
    assert bad.json()["status"] == "error"


def test_v2_query_json_csv_errors_and_isolation(world: World) -> None:
    sid = site_id(world)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    populate(
        world.app.state.store,
        [
            pageview(site_id=sid, visitor_id=1, session_id=1, ts=now, pathname="/a,b"),
            pageview(site_id=sid, visitor_id=2, session_id=2, ts=now, pathname="/"),
        ],
    )
    body = {
        "site_id": "example.com",
        "metrics": ["visitors", "pageviews"],
        "date_range": "day",
        "dimensions": ["event:page"],
        "order_by": [["event:page", "asc"]],
    }
    viewer = world.as_user("viewer")
    answer = world.client.post("/api/v2/query", json=body, headers=viewer)
    assert answer.status_code == 200, answer.text
    assert [row["dimensions"] for row in answer.json()["results"]] == [["/"], ["/a,b"]]
    csv = world.client.post("/api/v2/query", json=body, headers={**viewer, "accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == 'event:page,visitors,pageviews\n/,1,1\n"/a,b",1,1\n'
    wrong = world.client.post(
        "/api/v2/query", json={**body, "metrics": ["visitors", "nope"]}, headers=viewer
    )
    assert wrong.status_code == 400
    assert "metrics[1]" in wrong.json()["error"]["message"]
    hidden = world.client.post("/api/v2/query", json=body, headers=world.as_user("outsider"))
    assert hidden.status_code == 404
    assert world.client.post("/api/v2/query", json=body).status_code == 401


def test_realtime_and_its_event_stream(world: World) -> None:
    sid = site_id(world)
    now = datetime.now(UTC)
    populate(
        world.app.state.store,
        [
            pageview(site_id=sid, visitor_id=1, session_id=1, ts=now - timedelta(minutes=2)),
            pageview(site_id=sid, visitor_id=2, session_id=2, ts=now - timedelta(minutes=10)),
        ],
    )
    viewer = world.as_user("viewer")
    counts = world.client.get("/api/v1/realtime", params={"site": "example.com"}, headers=viewer)
    assert counts.status_code == 200, counts.text
    body = counts.json()
    assert body["visitors"] == 1
    assert len(body["pageviews_per_minute"]) == 30
    assert sum(body["pageviews_per_minute"]) == 2
    with world.client.stream(
        "GET", "/api/v1/realtime/stream", params={"site": "example.com", "count": 1}, headers=viewer
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    data = next(line for line in text.splitlines() if line.startswith("data: "))
    assert json.loads(data.removeprefix("data: "))["visitors"] == 1
