"""Every collection endpoint over the real app: answers, stored rows, bad input storing nothing."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from footfall.accounts.keys import create_api_key
from footfall.accounts.users import create_user
from footfall.meta.db import session_scope
from footfall.meta.models import Site
from tests.support.app import BROWSER_UA, flush_marker, rows, running_app, wait_rows

Client = tuple[TestClient, Starlette]


@pytest.fixture(scope="module")
def client_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with running_app(tmp_path_factory.mktemp("collect")) as pair:
        yield pair


@pytest.fixture
def client(client_app: Client) -> TestClient:
    return client_app[0]


@pytest.fixture
def app(client_app: Client) -> Starlette:
    return client_app[1]


def unique() -> str:
    return uuid.uuid4().hex[:12]


def test_pageview_is_enriched_and_stored(client: TestClient, app: Starlette) -> None:
    tag = unique()
    response = client.post(
        "/api/event",
        json={
            "name": "pageview",
            "url": f"https://example.com/pricing?utm_source=newsletter&utm_medium=email&t={tag}",
            "domain": "example.com",
            "referrer": "https://www.google.com/search?q=footfall",
            "screen_width": 1440,
        },
        headers={"x-forwarded-for": "8.8.8.8"},  # not trusted: ignored
    )
    assert response.status_code == 202
    assert response.text == "ok"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-footfall-dropped" not in response.headers
    (row,) = wait_rows(
        app, 1, "utm_medium = 'email' AND pathname = '/pricing' AND screen_width = 1440"
    )
    assert row["kind"] == "pageview" and row["hostname"] == "example.com"
    assert row["utm_source"] == "newsletter" and row["channel"] == "Email"
    assert row["browser"] == "Chrome" and row["os"] == "Windows" and row["device"] == "Desktop"
    assert row["visitor_id"] > 0 and row["session_id"] > 0
    assert row["is_bot"] is False


def test_short_keys_as_text_plain_with_props_and_revenue(
    client: TestClient, app: Starlette
) -> None:
    tag = unique()
    payload = {
        "n": "Purchase",
        "u": "https://example.com/checkout",
        "d": "example.com",
        "r": None,
        "p": json.dumps({"tag": tag, "items": 3}),
        "$": {"amount": "12.50", "currency": "EUR"},
    }
    response = client.post(
        "/api/event", content=json.dumps(payload), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 202
    (row,) = wait_rows(app, 1, "list_contains(props_values, ?)", [tag])
    assert row["kind"] == "event" and row["name"] == "Purchase"
    assert dict(zip(row["props_keys"], row["props_values"], strict=True)) == {
        "tag": tag,
        "items": "3",
    }
    assert str(row["revenue_amount"].normalize()) == "12.5" and row["revenue_currency"] == "EUR"


def test_several_domains_store_one_event_per_site(client: TestClient, app: Starlette) -> None:
    tag = unique()
    response = client.post(
        "/api/event",
        json={"n": tag, "u": "https://example.com/", "d": "example.com,localhost,unknown.org"},
    )
    assert response.status_code == 202
    stored = wait_rows(app, 2, "name = ?", [tag])
    assert len({row["site_id"] for row in stored}) == 2


@pytest.mark.parametrize(
    ("user_agent", "domain", "reason"),
    [
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "example.com",
            "bot",
        ),
        ("curl/8.5.0", "example.com", "bot"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            "example.com",
            "bot",
        ),
        (BROWSER_UA, "not-registered.example", "unknown_site"),
    ],
)
def test_dropped_events_answer_202_with_reason_and_store_nothing(
    client: TestClient, app: Starlette, user_agent: str, domain: str, reason: str
) -> None:
    tag = unique()
    response = client.post(
        "/api/event",
        json={"n": tag, "u": f"https://{domain}/", "d": domain},
        headers={"user-agent": user_agent},
    )
    assert response.status_code == 202
    assert response.headers["x-footfall-dropped"] == reason
    flush_marker(client, app)
    assert rows(app, "name = ?", [tag]) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "malformed_json"),
        (b'{"n": 1, "u": "https://example.com/", "d": "example.com"}', 400, "invalid_field"),
        (b'{"u": "https://example.com/", "d": "example.com"}', 400, "missing_field"),
        (b'{"n": "x", "u": "javascript:alert(1)", "d": "example.com"}', 400, "invalid_url"),
        (
            b'{"n": "x", "u": "https://example.com/", "d": "example.com", "p": "[1]"}',
            400,
            "invalid_props",
        ),
        (b'{"n": "' + b"x" * 20_000 + b'"}', 413, "body_too_large"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    client: TestClient, app: Starlette, body: bytes, status: int, code: str
) -> None:
    before = len(rows(app))
    response = client.post("/api/event", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json() == {
        "status": "error",
        "error": {"code": code, "message": response.json()["error"]["message"]},
    }
    assert response.json()["error"]["message"]
    flush_marker(client, app)
    assert len(rows(app)) == before + 1  # only the marker


def test_preflight_allows_cross_origin_posts(client: TestClient) -> None:
    response = client.options(
        "/api/event",
        headers={"origin": "https://example.com", "access-control-request-method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_site_exclusions(client: TestClient, app: Starlette, api_keys: dict[str, str]) -> None:
    with session_scope(app.state.engine) as session:
        site = session.query(Site).filter_by(domain="localhost").one()
        site.allowed_hostnames = ["localhost", "*.localhost"]
        site.excluded_paths = ["/admin/*"]
        site.excluded_ip_ranges = ["127.0.0.0/8"]
    app.state.sites.invalidate()
    app.state.sites.wait_refreshed(5)
    try:
        cases = [
            ("https://evil.example/", "hostname_not_allowed"),
            ("https://localhost/admin/users", "excluded_path"),
        ]
        for url, reason in cases:
            response = client.post("/api/event", json={"n": "pageview", "u": url, "d": "localhost"})
            assert response.status_code == 202
            assert response.headers.get("x-footfall-dropped") == reason, url
        allowed = client.post(
            "/api/event", json={"n": "pageview", "u": "https://app.localhost/", "d": "localhost"}
        )
        assert "x-footfall-dropped" not in allowed.headers
        # the end user's address speaks only through an ingest key (server-side API)
        excluded = client.post(
            "/api/v1/events",
            json={"event_type": "page_view", "site": "localhost", "metadata": {"ip": "127.0.0.9"}},
            headers={"authorization": f"Bearer {api_keys['ingest']}"},
        )
        assert excluded.status_code == 202
        assert excluded.json() == {"status": "dropped", "reason": "excluded_ip"}
        assert excluded.headers["x-footfall-dropped"] == "excluded_ip"
    finally:
        with session_scope(app.state.engine) as session:
            site = session.query(Site).filter_by(domain="localhost").one()
            site.allowed_hostnames, site.excluded_paths, site.excluded_ip_ranges = [], [], []
        app.state.sites.invalidate()
        app.state.sites.wait_refreshed(5)


def test_track_event_api(client: TestClient, app: Starlette) -> None:
    response = client.post(
        "/api/v1/events",
        json={
            "event_type": "page_view",
            "user_id": "user123",
            "session_id": "session456",
            "timestamp": "2026-01-15T12:34:56Z",
            "metadata": {
                "page_url": "https://example.com/a",
                "referrer_url": "https://referrer.com",
                "browser": "Chrome",
                "device": "Desktop",
                "any_other_key": "kept as a prop",
            },
        },
        headers={"user-agent": "python-requests/2.32"},  # server APIs never drop for the UA
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success"
    event_id = uuid.UUID(body["event_id"])
    (row,) = wait_rows(app, 1, "event_id = ?", [event_id])
    assert row["kind"] == "pageview" and row["pathname"] == "/a"
    assert row["user_id"] == "user123"
    assert row["ts"].isoformat().startswith("2026-01-15T12:34:56")
    assert row["browser"] == "Chrome" and row["device"] == "Desktop"
    assert row["props_keys"] == ["any_other_key"] and row["referrer_source"] == "referrer.com"

    again = client.post(
        "/api/v1/events",
        json={
            "event_type": "Signup",
            "user_id": "user123",
            "session_id": "session456",
            "site": "example.com",
        },
    )
    (second,) = wait_rows(app, 1, "event_id = ?", [uuid.UUID(again.json()["event_id"])])
    assert second["visitor_id"] == row["visitor_id"]  # user_id ties one person's events
    assert second["session_id"] == row["session_id"]  # session_id groups them into one visit
    assert second["kind"] == "event" and second["name"] == "Signup"


@pytest.mark.parametrize(
    "payload",
    [
        {"event_type": "page_view", "site": "unregistered.example"},
        {"event_type": "page_view", "metadata": {"page_url": "https://unregistered.example/"}},
        {"event_type": "page_view"},
        {"site": "example.com"},
        {"event_type": "page_view", "site": "example.com", "timestamp": "not a time"},
        {"event_type": ["x"], "site": "example.com"},
    ],
)
def test_track_event_bad_input(
    client: TestClient, app: Starlette, payload: dict[str, object]
) -> None:
    before = len(rows(app))
    response = client.post("/api/v1/events", json=payload)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    flush_marker(client, app)
    assert len(rows(app)) == before + 1


def test_track_conversion_api(client: TestClient, app: Starlette) -> None:
    response = client.post(
        "/api/v1/conversions",
        json={
            "conversion_type": "purchase",
            "user_id": "buyer-1",
            "site": "example.com",
            "metadata": {"product_id": "prod789", "amount": 99.99, "currency": "USD"},
        },
    )
    assert response.status_code == 201
    conversion_id = uuid.UUID(response.json()["conversion_id"])
    (row,) = wait_rows(app, 1, "event_id = ?", [conversion_id])
    assert row["kind"] == "conversion" and row["name"] == "purchase"
    assert str(row["revenue_amount"].normalize()) == "99.99" and row["revenue_currency"] == "USD"
    assert row["props_keys"] == ["product_id"] and row["props_values"] == ["prod789"]


@pytest.fixture(scope="module")
def api_keys(client_app: Client) -> dict[str, str]:
    app = client_app[1]
    with session_scope(app.state.engine) as session:
        user = create_user(session, "ingester", "a long enough password", "admin")
        session.flush()
        site = session.query(Site).filter_by(domain="example.com").one()
        _, ingest = create_api_key(session, user.id, "ingest", ["ingest"])
        _, read_only = create_api_key(session, user.id, "read", ["read"])
        _, bound = create_api_key(session, user.id, "bound", ["ingest"], site_id=site.id)
    return {"ingest": ingest, "read": read_only, "bound": bound}


def test_batch_requires_an_ingest_key(client: TestClient, api_keys: dict[str, str]) -> None:
    items = [{"event_type": "page_view", "site": "example.com"}]
    assert client.post("/api/v1/events/batch", json=items).status_code == 401
    bad = client.post(
        "/api/v1/events/batch", json=items, headers={"authorization": "Bearer ff_nope_nope"}
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthorized"
    read = {"authorization": f"Bearer {api_keys['read']}"}
    assert client.post("/api/v1/events/batch", json=items, headers=read).status_code == 403


def test_batch_accepts_valid_items_and_lists_rejected_ones(
    client: TestClient, app: Starlette, api_keys: dict[str, str]
) -> None:
    tag = unique()
    items = [
        {"event_type": "page_view", "site": "example.com", "metadata": {"tag": tag}},
        {"event_type": "", "site": "example.com"},
        {"event_type": "Signup", "site": "example.com", "metadata": {"tag": tag}},
        {"event_type": "x", "site": "nowhere.example"},
        "not an object",
    ]
    headers = {"authorization": f"Bearer {api_keys['ingest']}"}
    response = client.post("/api/v1/events/batch", json=items, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["accepted"] == 2
    assert [item["index"] for item in body["rejected"]] == [1, 3, 4]
    assert wait_rows(app, 2, "list_contains(props_values, ?)", [tag])

    ndjson = "\n".join(json.dumps(item) for item in items[:1] * 3)
    response = client.post(
        "/api/v1/events/batch",
        content=ndjson,
        headers={**headers, "content-type": "application/x-ndjson"},
    )
    assert response.json()["accepted"] == 3
    assert wait_rows(app, 5, "list_contains(props_values, ?)", [tag])


def test_batch_key_bound_to_a_site_and_ip_override(
    client: TestClient, app: Starlette, api_keys: dict[str, str]
) -> None:
    headers = {"authorization": f"Bearer {api_keys['bound']}"}
    tag = unique()
    items = [
        {"event_type": tag, "site": "example.com", "metadata": {"ip": "8.8.8.8"}},
        {"event_type": tag, "site": "localhost"},
    ]
    body = client.post("/api/v1/events/batch", json=items, headers=headers).json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 1
    (row,) = wait_rows(app, 1, "name = ?", [tag])
    assert row["country"] == "US"  # metadata.ip honoured with an ingest key


def test_batch_limit(client: TestClient, api_keys: dict[str, str]) -> None:
    items = [{"event_type": "x", "site": "example.com"}] * 10_001
    response = client.post(
        "/api/v1/events/batch",
        json=items,
        headers={"authorization": f"Bearer {api_keys['ingest']}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "batch_too_large"


def test_user_analytics_post(client: TestClient, app: Starlette) -> None:
    user = unique()
    response = client.post(f"/analytics?timestamp=1779999990&user={user}&event=click")
    assert response.status_code == 204
    (row,) = wait_rows(app, 1, "user_id = ?", [user])
    assert row["name"] == "click" and row["ts"].timestamp() == 1779999990
    for query in (
        "timestamp=abc&user=1&event=click",
        "user=1&event=click",
        "timestamp=1779999990&user=1",
    ):
        bad = client.post(f"/analytics?{query}")
        assert bad.status_code == 400, query
        assert bad.json()["status"] == "error"


def test_tracker_script_is_cacheable(client: TestClient) -> None:
    response = client.get("/js/script.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert "max-age" in response.headers["cache-control"]
    assert "footfall" in response.text  # httpx decodes gzip: the script itself
    etag = response.headers["etag"]
    cached = client.get("/js/script.js", headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    plain = client.get("/js/script.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content, 9)) <= 1000


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = client.get("/metrics").text
    assert 'footfall_events_accepted_total{endpoint="api_event"}' in metrics
    assert 'footfall_events_dropped_total{reason="bot"}' in metrics
    assert "footfall_flush_seconds_bucket" in metrics
    assert "footfall_queue_bytes" in metrics
    assert 'footfall_request_seconds_count{route="event"}' in metrics


def test_openapi_documents_every_collection_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in (
        "/api/event",
        "/api/v1/events",
        "/api/v1/conversions",
        "/api/v1/events/batch",
        "/analytics",
        "/js/script.js",
    ):
        assert path in schema["paths"], path
    assert client.get("/docs").status_code == 200
