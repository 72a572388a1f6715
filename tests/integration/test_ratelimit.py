"""Rate limits of the collection endpoints, on the real collector, spool and routes.

Time is a test clock advanced per request, so "N events per second" is exact and the test does
not depend on how fast this machine runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from footfall.accounts.keys import ApiKeyVerifier, create_api_key
from footfall.accounts.users import create_user
from footfall.collect.collector import Collector
from footfall.collect.fast import ApiEventFastPath
from footfall.collect.ratelimit import CollectLimits, RateLimit, TokenBuckets
from footfall.collect.routes import CollectConfig, collection_routes
from footfall.collect.script import TrackerScript
from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import upgrade
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import SiteDirectory, create_site
from footfall.queue import open_queue
from tests.support.app import BROWSER_UA, settings_for

IP_RATE = 20.0  # events per second per client IP (burst: 10 s worth, 200)
SITE_RATE = 50.0  # per site (burst 500)


class StepClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Collection:
    app: Starlette
    clock: StepClock
    ingest_key: str

    def client(self, ip: str) -> TestClient:
        return TestClient(self.app, client=(ip, 40000), headers={"user-agent": BROWSER_UA})


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    """The collection routes and fast path over real stores, with small limits on a test clock."""
    settings = settings_for(tmp_path / "data").with_secret()
    engine = make_engine(settings.database_url)
    upgrade(settings.database_url)
    with session_scope(engine) as session:
        create_site(session, "example.com")
        create_site(session, "busy.example")
        user = create_user(session, "server", "a long and unusual passphrase", "admin")
        _, raw_key = create_api_key(session, user.id, "backend", ["ingest"])
    sites = SiteDirectory(engine)
    producer, consumer = open_queue(settings)
    collector = Collector(
        sites=sites,
        salts=SaltKeeper(engine),
        producer=producer,
        secret_key=settings.secret_key.encode(),
        clock_ms=lambda: 1_700_000_000_000,
    )
    clock = StepClock()
    limits = CollectLimits.in_process(IP_RATE, SITE_RATE, clock=clock)
    config = CollectConfig(
        trusted_proxies=(),
        max_body_bytes=settings.max_body_bytes,
        max_batch_bytes=settings.max_batch_bytes,
        default_site="example.com",
        limits=limits,
    )
    app = Starlette(
        routes=collection_routes(collector, ApiKeyVerifier(engine), config, TrackerScript()),
        middleware=[
            Middleware(
                ApiEventFastPath,
                collector=collector,
                trusted_proxies=(),
                max_body_bytes=settings.max_body_bytes,
                limits=limits,
            )
        ],
    )
    try:
        yield Collection(app, clock, raw_key)
    finally:
        producer.close()
        consumer.close()
        engine.dispose()


def _pageview(client: TestClient, site: str = "example.com") -> int:
    body = {"n": "pageview", "u": f"https://{site}/", "d": site}
    return client.post("/api/event", json=body).status_code


def test_a_flood_from_one_ip_is_held_to_the_limit_while_another_ip_is_served(
    collection: Collection,
) -> None:
    flood, neighbour = collection.client("203.0.113.9"), collection.client("198.51.100.4")
    step = 0.01  # the flood sends 100 requests a second, five times its limit
    accepted = neighbour_ok = 0
    for index in range(1000):
        collection.clock.now += step
        status = _pageview(flood)
        accepted += status == 202
        assert status in {202, 429}
        if index % 10 == 0:  # the neighbour sends 10 a second, under its limit
            neighbour_ok += _pageview(neighbour) == 202
    elapsed = 1000 * step
    allowed = IP_RATE * 10 + IP_RATE * elapsed  # burst + refill
    assert allowed * 0.95 <= accepted <= allowed * 1.05, (accepted, allowed)
    assert neighbour_ok == 100


def test_429_carries_retry_after_and_the_contract_error(collection: Collection) -> None:
    client = collection.client("203.0.113.10")
    for _ in range(200):
        assert _pageview(client) == 202
    refused = client.post("/api/event", json={"n": "pageview", "u": "https://example.com/"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    event = {"event_type": "page_view", "site": "example.com"}
    other_route = client.post("/api/v1/events", json=event)
    assert other_route.status_code == 429 and other_route.headers["retry-after"] == "1"
    collection.clock.now += 1.0  # 20 tokens are back
    assert client.post("/api/v1/events", json=event).status_code == 201


def test_servers_with_an_ingest_key_are_limited_per_site_only(collection: Collection) -> None:
    server = collection.client("192.0.2.50")
    headers = {"authorization": f"Bearer {collection.ingest_key}"}
    event = {"event_type": "page_view", "site": "busy.example"}
    statuses = [
        server.post("/api/v1/events", json=event, headers=headers).status_code for _ in range(600)
    ]
    # Far beyond the per-IP burst (200), up to the site's own burst (500).
    assert statuses == [201] * 500 + [429] * 100
    browser = collection.client("198.51.100.77")
    assert _pageview(browser, "busy.example") == 429
    assert _pageview(browser, "example.com") == 202


def test_token_bucket_refills_at_its_rate_and_forgets_idle_keys() -> None:
    clock = StepClock()
    buckets = TokenBuckets(RateLimit(rate=2.0, burst=4.0), clock=clock, max_keys=3)
    assert [buckets.take("a") for _ in range(4)] == [0.0] * 4
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    buckets.take("b")
    buckets.take("c")
    clock.now += 10  # every bucket is full again: idle ones may be forgotten
    buckets.take("d")
    assert len(buckets) == 1
    assert RateLimit.per_second(0) is None
    assert RateLimit.per_second(5) == RateLimit(rate=5, burst=50)
