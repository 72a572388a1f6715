"""The scale-out deployment shows the same dashboard as the embedded one for the same events.

One generated mixed load (three sites in three time zones; pageviews, custom events,
conversions with revenue, engagement, tracked-link clicks and e-mail opens; cookieless visitors
and identified users with several visits over the past week) goes to (a) 2 collectors +
2 workers + 1 api process over Redis, ClickHouse and PostgreSQL and (b) one embedded
`footfall serve` (spool, DuckDB, SQLite). Each request is sent to both before the next one, so
both receive every visitor's events in the same order. Then both must hold the same events,
grouped into the same visits, and every dashboard panel's query through POST /api/v2/query
(plus the conversions and traffic reports) must answer the same on both.

Visitor ids: a cookieless visitor hash is keyed with the salt of the day, which each deployment
keeps in its own metadata database. Before either deployment starts, both databases get the
same salts (yesterday, today and tomorrow, so a run across midnight agrees too), so both
compute the same visitor ids, and the visits are compared visitor by visitor, not only counted.
Session ids are random per visit on each side: visits are compared as groups of events.

Time: the week of history is sent with explicit timestamps (the server-side APIs), the live
part (`/api/event`, `/u/`, `/r/`) is stamped on arrival. A live visit's duration is the time its
requests took to arrive, which differs between the two deployments; so `visit_duration` is
compared over the history days only, and every other figure over both the history days and
the whole range including today.

Sessions need each visitor's events in one sessionizer: the workers read disjoint shards
(`--shards 0-1` and `2-3`), as docs/scaling.md prescribes for exact visits. A batch request
(`/api/v1/events/batch`) is queued on the shard of its first event's visitor, so every batch
here carries one visitor's events.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import redis
from clickhouse_driver import Client  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy import select

from footfall.accounts.keys import create_api_key
from footfall.accounts.tokens import issue_token
from footfall.links import service
from footfall.meta.db import make_engine, session_scope
from footfall.meta.goal_models import Goal
from footfall.meta.models import Salt, User
from footfall.meta.sites import create_site, get_site
from tests.support.accounts import postgres_metadata_url
from tests.support.agents import BROWSERS
from tests.support.clickhouse import ClickHouseServer, clickhouse_server
from tests.support.redis import redis_url
from tests.support.scaleout import SECRET, Cluster, cluster_env, running_cluster
from tests.support.server import FOOTFALL, LiveServer

__all__ = ["clickhouse_server", "redis_url"]  # fixtures

pytestmark = pytest.mark.slow

SHARDS = 4
WORKER_SHARDS = ("0-1", "2-3")
SENDERS = 4
VISITORS_PER_SITE = 40
NOW = datetime.now(UTC)
TODAY = NOW.date()
# History lies in UTC days TODAY-7 .. TODAY-3: local days TODAY-8 .. TODAY-2 in any zone.
HISTORY_RANGE = [(TODAY - timedelta(days=9)).isoformat(), (TODAY - timedelta(days=2)).isoformat()]
WHOLE_RANGE = [(TODAY - timedelta(days=9)).isoformat(), (TODAY + timedelta(days=1)).isoformat()]

SITES = {"localhost": "UTC", "shop.example": "Europe/Berlin", "news.example": "America/New_York"}
# (event name, page path) per goal.
GOALS = {
    "localhost": [("Signup", None)],
    "shop.example": [("purchase", None), (None, "/thanks*")],
    "news.example": [("Subscribe", None)],
}
CUSTOM = {
    "localhost": ["Signup", "Download"],
    "shop.example": ["Add to cart", "Signup"],
    "news.example": ["Subscribe", "Share"],
}
CAMPAIGN = "weekly-parity"
# code -> (site, target, in the campaign); the first lands on its own site (attribution).
LINKS = {
    "sale-parity": ("shop.example", "https://shop.example/sale", False),
    "partner-parity": ("news.example", "https://partner.example.org/offer", False),
    "story-parity": ("news.example", "https://news.example/story/1", True),
}
PAGES = ["/", "/pricing", "/blog/launch", "/docs/install", "/about", "/thanks/order", "/signup"]
QUERIES = [
    "",
    "",
    "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "?utm_source=google&utm_medium=cpc&utm_campaign=brand",
]
REFERRERS = [
    None,
    None,
    "https://www.google.com/",
    "https://news.ycombinator.com/item?id=1",
    "https://t.co/abc",
    "https://www.facebook.com/",
    "https://duckduckgo.com/",
    "https://github.com/footfall/footfall",
    "https://www.bing.com/search?q=analytics",
]
# /24 networks in GB, SE, CN, US, AU, IN, BR, ZA, CA, RU, NL, DE (the shipped country data).
NETWORKS = [
    "81.2.69",
    "89.160.20",
    "175.16.199",
    "216.160.83",
    "1.1.1",
    "31.13.64",
    "200.160.2",
    "41.0.0",
    "103.21.244",
    "213.180.204",
    "91.198.174",
    "194.150.168",
]


# --- the load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One request, sent alike to both deployments."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    keyed: bool = False  # carries the deployment's ingest API key
    expect: int = 202
    events: int = 1  # events it stores
    to_location: bool = False  # body["u"] is the previous answer's Location


@dataclass
class Visitor:
    site: str
    ip: str
    agent: str
    user_id: str | None
    steps: list[Step] = field(default_factory=list)
    visits: int = 0


def generate(seed: int = 7) -> list[Visitor]:
    """Every visitor's requests, in the order they are sent (each visitor's in time order)."""
    rng = random.Random(seed)
    visitors = []
    labels = iter(range(1_000_000))
    for site_index, site in enumerate(SITES):
        for k in range(VISITORS_PER_SITE):
            number = site_index * VISITORS_PER_SITE + k
            network = NETWORKS[number % len(NETWORKS)]
            visitor = Visitor(
                site=site,
                ip=f"{network}.{10 + number // len(NETWORKS)}",
                agent=BROWSERS[rng.randrange(len(BROWSERS))],
                user_id=f"user-{number}" if k % 7 == 3 else None,
            )
            _history(rng, visitor, labels, batched=k % 5 == 1)
            if visitor.user_id is None and k % 4 != 2:
                _live(rng, visitor, labels)
            visitors.append(visitor)
    return visitors


def _url(rng: random.Random, site: str) -> str:
    return f"https://{site}{rng.choice(PAGES)}{rng.choice(QUERIES)}"


def _history(rng: random.Random, visitor: Visitor, labels: Iterator[int], *, batched: bool) -> None:
    """1-3 visits in UTC days TODAY-7 .. TODAY-3, each of 1-5 events, hours apart."""
    start = datetime.combine(TODAY - timedelta(days=7), datetime.min.time(), UTC)
    moment = start + timedelta(minutes=rng.randrange(24 * 60))
    items: list[dict[str, Any]] = []
    for visit in range(rng.randint(1, 3)):
        visitor.visits += 1
        referrer = rng.choice(REFERRERS)
        for index in range(rng.randint(1, 5)):
            metadata: dict[str, Any] = {
                "page_url": _url(rng, visitor.site),
                "user_agent": visitor.agent,
                "ip": visitor.ip,
                "n": f"h{next(labels)}",
            }
            if index == 0 and referrer:
                metadata["referrer_url"] = referrer
            item: dict[str, Any] = {
                "event_type": "page_view",
                "timestamp": moment.isoformat().replace("+00:00", "Z"),
                "site": visitor.site,
                "metadata": metadata,
            }
            if visitor.user_id:
                item["user_id"] = visitor.user_id
                item["session_id"] = f"{visitor.user_id}-{visit}"
            roll = rng.random()
            if index and roll < 0.25:
                item["event_type"] = rng.choice(CUSTOM[visitor.site])
                metadata["plan"] = rng.choice(["free", "pro"])
            if index and roll > 0.85 and visitor.site == "shop.example" and not batched:
                conversion = {
                    "conversion_type": "purchase",
                    "timestamp": item["timestamp"],
                    "site": visitor.site,
                    "metadata": {
                        **metadata,
                        "amount": f"{rng.randint(5, 300)}.{rng.randint(0, 99):02d}",
                        "currency": "EUR",
                    },
                }
                visitor.steps.append(
                    Step("POST", "/api/v1/conversions", conversion, keyed=True, expect=201)
                )
            elif batched:
                items.append(item)
            else:
                visitor.steps.append(Step("POST", "/api/v1/events", item, keyed=True, expect=201))
            moment += timedelta(seconds=rng.randint(5, 400))
        moment += timedelta(hours=rng.randint(2, 30))
    if items:
        visitor.steps.append(
            Step("POST", "/api/v1/events/batch", items, keyed=True, expect=200, events=len(items))
        )


def _live(rng: random.Random, visitor: Visitor, labels: Iterator[int]) -> None:
    """Today's visit: pageviews with engagement, custom events, link clicks and opens."""
    headers = {"user-agent": visitor.agent, "x-forwarded-for": visitor.ip}
    site = visitor.site
    referrer = rng.choice(REFERRERS)
    visitor.visits += 1
    for index in range(rng.randint(1, 4)):
        url = _url(rng, site)
        pageview = {
            "n": "pageview",
            "u": url,
            "d": site,
            "r": referrer if index == 0 else None,
            "w": rng.choice([390, 820, 1440, 1920]),
            "p": {"n": f"l{next(labels)}"},
        }
        visitor.steps.append(Step("POST", "/api/event", pageview, headers))
        if rng.random() < 0.6:
            engagement = {
                "n": "engagement",
                "u": url,
                "d": site,
                "sd": rng.randint(5, 100),
                "e": rng.randint(500, 90_000),
            }
            visitor.steps.append(Step("POST", "/api/event", engagement, headers))
        if rng.random() < 0.3:
            custom = {
                "n": rng.choice(CUSTOM[site]),
                "u": url,
                "d": site,
                "p": {"n": f"l{next(labels)}", "plan": rng.choice(["free", "pro"])},
            }
            visitor.steps.append(Step("POST", "/api/event", custom, headers))
    codes = [code for code, (owner, _, _) in LINKS.items() if owner == site]
    if codes and rng.random() < 0.7:
        code = rng.choice(codes)
        visitor.steps.append(Step("GET", f"/u/{code}", None, headers, expect=302))
        if LINKS[code][2] is False and LINKS[code][1].startswith(f"https://{site}/"):
            # The landing page carries the link's attribution parameter from the redirect.
            landing = {"n": "pageview", "u": "", "d": site, "p": {"n": f"l{next(labels)}"}}
            visitor.steps.append(Step("POST", "/api/event", landing, headers, to_location=True))
    if site == "news.example" and rng.random() < 0.5:
        visitor.steps.append(Step("GET", f"/r/{CAMPAIGN}.gif", None, headers, expect=200))


# --- the two deployments -------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    token: str  # the admin's bearer token
    ingest_key: str


def shared_salts() -> dict[date, bytes]:
    """One salt per day around today, the same for both metadata databases."""
    rng = random.Random(11)
    return {TODAY + timedelta(days=offset): rng.randbytes(32) for offset in (-1, 0, 1)}


def seed(database_url: str, salts: dict[date, bytes]) -> Credentials:
    """The same sites, goals, links, campaign and salts in a migrated metadata database (whose
    `footfall init` made the site localhost and the admin), in the same order, so that every id
    is the same on both sides; returns credentials of the admin."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            site_ids = {}
            for domain, zone in SITES.items():
                site = get_site(session, domain) or create_site(session, domain, timezone=zone)
                site_ids[domain] = site.id
            for domain, goals in GOALS.items():
                for event_name, page_path in goals:
                    session.add(
                        Goal(site_id=site_ids[domain], event_name=event_name, page_path=page_path)
                    )
            campaign = service.create_campaign(
                session, site_id=site_ids["news.example"], name="weekly", code=CAMPAIGN
            )
            for code, (domain, target, in_campaign) in LINKS.items():
                service.create_link(
                    session,
                    site_id=site_ids[domain],
                    url=target,
                    code=code,
                    campaign_id=campaign.id if in_campaign else None,
                )
            admin = session.scalars(select(User).where(User.role == "admin")).one()
            _, token = issue_token(session, SECRET, admin.id)
            _, key = create_api_key(session, admin.id, "parity ingest", ["ingest"])
            for day, value in salts.items():
                session.add(Salt(day=day, value=value))
        return Credentials(token, key)
    finally:
        engine.dispose()


def init(data_dir: Path, env: dict[str, str]) -> None:
    """`footfall init`: metadata schema, event store schema, site localhost, first admin."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [FOOTFALL, "init"],
        env={**os.environ, **env, "FOOTFALL_DATA_DIR": str(data_dir)},
        capture_output=True,
        check=True,
    )


@dataclass
class Deployment:
    """Where one deployment takes events and answers queries."""

    name: str
    collect_urls: list[str]
    api_url: str
    credentials: Credentials


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_metadata_url() as url:
        yield url


def test_the_dashboard_numbers_of_scale_out_equal_those_of_embedded(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer, database_url: str
) -> None:
    salts = shared_salts()
    visitors = generate()
    expected = sum(step.events for visitor in visitors for step in visitor.steps)

    embedded_dir = tmp_path / "embedded"
    embedded_env = {
        "FOOTFALL_SECRET_KEY": SECRET,
        "FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8",
        "FOOTFALL_DATABASE_URL": f"sqlite:///{embedded_dir / 'footfall.sqlite3'}",
        "FOOTFALL_FLUSH_INTERVAL": "0.2",
    }
    embedded = LiveServer(embedded_dir, env=embedded_env)
    embedded.data_dir.mkdir(parents=True)
    embedded.run_cli("init")
    embedded_credentials = seed(embedded_env["FOOTFALL_DATABASE_URL"], salts)

    events_url = clickhouse_server.fresh_database_url()
    env = {
        **cluster_env(f"{redis_url}?shards={SHARDS}", events_url, database_url),
        "FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8",
    }
    init(tmp_path / "init", env)
    cluster_credentials = seed(database_url, salts)

    embedded.start()
    try:
        with running_cluster(tmp_path / "cluster", env, worker_shards=WORKER_SHARDS) as cluster:
            sides = [
                Deployment("embedded", [embedded.url], embedded.url, embedded_credentials),
                Deployment(
                    "scale-out",
                    [collector.url for collector in cluster.collectors],
                    cluster.api.url,
                    cluster_credentials,
                ),
            ]
            failures = send(visitors, sides)
            assert not failures, "\n".join(failures[:20])
            scaled_rows = _wait_clickhouse(events_url, redis_url, expected, cluster)
            embedded.stop()  # drains the spool into DuckDB
            embedded_rows = _duckdb_rows(embedded_dir / "events.duckdb")
            embedded.start()
            assert len(embedded_rows) == len(scaled_rows) == expected
            _assert_same_visits(_visits(scaled_rows), _visits(embedded_rows))
            assert Counter(_event(row) for row in scaled_rows) == Counter(
                _event(row) for row in embedded_rows
            )
            compare_reports(sides)
    finally:
        embedded.stop()


def send(visitors: list[Visitor], sides: list[Deployment]) -> list[str]:
    """Send every visitor's steps to both deployments, visitors spread over SENDERS threads;
    returns what went wrong."""
    failures: list[str] = []
    lock = threading.Lock()

    def run(mine: list[Visitor]) -> None:
        clients = {
            side.name: [httpx.Client(base_url=url, timeout=30) for url in side.collect_urls]
            for side in sides
        }
        turn = 0
        try:
            for visitor in mine:
                location = dict.fromkeys(clients, "")
                for step in visitor.steps:
                    turn += 1
                    for side in sides:
                        pool = clients[side.name]
                        answer = _request(pool[turn % len(pool)], step, side, location[side.name])
                        problem = _problem(step, answer)
                        if problem:
                            with lock:
                                failures.append(f"{side.name} {step.method} {step.path}: {problem}")
                        location[side.name] = answer.headers.get("location", "")
        finally:
            for pool in clients.values():
                for client in pool:
                    client.close()

    threads = [
        threading.Thread(target=run, args=(visitors[index::SENDERS],)) for index in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _request(client: httpx.Client, step: Step, side: Deployment, location: str) -> httpx.Response:
    headers = dict(step.headers)
    if step.keyed:
        headers["authorization"] = f"Bearer {side.credentials.ingest_key}"
    body = step.body
    if step.to_location:
        body = {**body, "u": location}
    if step.method == "GET":
        return client.get(step.path, headers=headers)
    return client.post(step.path, json=body, headers=headers)


def _problem(step: Step, answer: httpx.Response) -> str:
    if answer.status_code != step.expect:
        return f"answered {answer.status_code}, expected {step.expect}: {answer.text[:200]}"
    if "x-footfall-dropped" in answer.headers:
        return f"dropped: {answer.headers['x-footfall-dropped']}"
    if step.path == "/api/v1/events/batch":
        result = answer.json()
        if result["accepted"] != step.events or result["rejected"]:
            return f"batch answered {result}"
    return ""


# --- what each side stored -----------------------------------------------------------------------

# Columns read back from both stores (all but event_id and batch_id, which each deployment
# numbers its own way, and ts, compared only where the request gave it: see `_event`).
COLUMNS = (
    "site_id",
    "visitor_id",
    "session_id",
    "kind",
    "name",
    "hostname",
    "pathname",
    "referrer",
    "referrer_source",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "country",
    "region",
    "city",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "screen_width",
    "props_keys",
    "props_values",
    "revenue_amount",
    "revenue_currency",
    "link_id",
    "campaign_id",
    "recipient",
    "platform",
    "is_bot",
    "interactive",
    "scroll_depth",
    "engagement_ms",
    "user_id",
)


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    epoch_ms: int


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    out["props_keys"] = tuple(out["props_keys"])
    out["props_values"] = tuple(out["props_values"])
    out["is_bot"] = bool(out["is_bot"])
    out["interactive"] = bool(out["interactive"])
    amount = out["revenue_amount"]
    out["revenue_amount"] = None if amount is None else Decimal(amount).normalize()
    return out


def _duckdb_rows(path: Path) -> list[Row]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f"SELECT {', '.join(COLUMNS)}, epoch_ms(ts) FROM events")
        return [
            Row(_normalised(dict(zip(COLUMNS, row[:-1], strict=True))), int(row[-1]))
            for row in cursor.fetchall()
        ]


def _clickhouse_rows(events_url: str) -> list[Row]:
    client = Client.from_url(events_url)
    try:
        rows = client.execute(f"SELECT {', '.join(COLUMNS)}, ts_epoch_ms FROM events")
    finally:
        client.disconnect()
    return [
        Row(_normalised(dict(zip(COLUMNS, row[:-1], strict=True))), int(row[-1])) for row in rows
    ]


def _wait_clickhouse(events_url: str, redis_url: str, expected: int, cluster: Cluster) -> list[Row]:
    """ClickHouse's rows once the queue is empty and the count reached `expected`."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 90
    try:
        while True:
            rows = _clickhouse_rows(events_url)
            queued = sum(int(client.xlen(f"footfall:events:{shard}")) for shard in range(SHARDS))
            if (queued == 0 and len(rows) >= expected) or time.monotonic() > deadline:
                assert len(rows) == expected, f"{len(rows)} of {expected} stored\n{cluster.logs()}"
                return rows
            time.sleep(0.3)
    finally:
        client.close()


def _event(row: Row) -> tuple[Any, ...]:
    """What identifies an event on both sides: its columns but the session id, and its time
    when the request gave one (history; `h` labels)."""
    values = {key: value for key, value in row.values.items() if key != "session_id"}
    props = dict(zip(values["props_keys"], values["props_values"], strict=True))
    given_time = row.epoch_ms if props.get("n", "").startswith("h") else None
    return (*sorted(values.items(), key=lambda item: item[0]), given_time)


def _visits(rows: list[Row]) -> dict[tuple[int, int], list[tuple[tuple[Any, ...], ...]]]:
    """Per (site, visitor): its visits, each the sorted events it holds."""
    by_session: dict[tuple[int, int, int], list[tuple[Any, ...]]] = {}
    for row in rows:
        key = (row.values["site_id"], row.values["visitor_id"], row.values["session_id"])
        by_session.setdefault(key, []).append(_event(row))
    visits: dict[tuple[int, int], list[tuple[tuple[Any, ...], ...]]] = {}
    for (site_id, visitor_id, _), events in by_session.items():
        visits.setdefault((site_id, visitor_id), []).append(tuple(sorted(events, key=repr)))
    return {key: sorted(value, key=repr) for key, value in visits.items()}


def _assert_same_visits(scaled: dict[Any, list[Any]], embedded: dict[Any, list[Any]]) -> None:
    differing = sorted(
        key for key in scaled.keys() | embedded.keys() if scaled.get(key) != embedded.get(key)
    )
    if differing:
        site_id, visitor_id = differing[0]
        raise AssertionError(
            f"the visits of {len(differing)} of {len(embedded)} visitors differ; site {site_id} "
            f"visitor {visitor_id}: {len(scaled.get(differing[0], []))} visits on the scale-out "
            f"side, {len(embedded.get(differing[0], []))} embedded:\n"
            f"{scaled.get(differing[0])}\n{embedded.get(differing[0])}"
        )


# --- the dashboard's questions -------------------------------------------------------------------

TOP = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
VISIT = ["visitors", "visits", "bounce_rate", "visit_duration"]
PANELS: dict[str, dict[str, Any]] = {
    "top stats": {"metrics": [*TOP, "events"]},
    "visitors by day": {
        "metrics": TOP,
        "dimensions": ["time:day"],
        "order_by": [["time:day", "asc"]],
    },
    "pages": {
        "metrics": ["visitors", "pageviews", "time_on_page"],
        "dimensions": ["event:page"],
        "filters": [["is", "event:name", ["pageview"]]],
    },
    "entry pages": {"metrics": VISIT, "dimensions": ["visit:entry_page"]},
    "exit pages": {"metrics": VISIT, "dimensions": ["visit:exit_page"]},
    "sources": {"metrics": VISIT, "dimensions": ["visit:source"]},
    "referrers": {"metrics": ["visitors"], "dimensions": ["visit:referrer"]},
    "channels": {"metrics": VISIT, "dimensions": ["visit:channel"]},
    "utm sources": {"metrics": ["visitors"], "dimensions": ["visit:utm_source"]},
    "utm mediums": {"metrics": ["visitors"], "dimensions": ["visit:utm_medium"]},
    "utm campaigns": {"metrics": ["visitors"], "dimensions": ["visit:utm_campaign"]},
    "countries": {"metrics": ["visitors", "visits"], "dimensions": ["visit:country"]},
    "devices": {"metrics": ["visitors"], "dimensions": ["visit:device"]},
    "browsers": {"metrics": ["visitors"], "dimensions": ["visit:browser"]},
    "operating systems": {"metrics": ["visitors"], "dimensions": ["visit:os"]},
    "custom events": {
        "metrics": ["visitors", "events", "conversion_rate"],
        "dimensions": ["event:name"],
        "filters": [["is_not", "event:name", ["pageview", "engagement"]]],
    },
    "revenue": {"metrics": ["events", "revenue"], "filters": [["is", "event:name", ["purchase"]]]},
    "links": {"metrics": ["visitors", "events"], "dimensions": ["link:code"]},
    "campaigns": {"metrics": ["visitors", "events"], "dimensions": ["link:campaign"]},
}


def _payload(site: str, panel: dict[str, Any], date_range: list[str]) -> dict[str, Any]:
    payload = {"site_id": site, "date_range": date_range, **panel}
    if date_range is WHOLE_RANGE:
        # A live visit lasts as long as its requests took to arrive at each deployment.
        payload["metrics"] = [m for m in panel["metrics"] if m != "visit_duration"]
    dimensions = panel.get("dimensions", [])
    if dimensions and "order_by" not in panel:
        payload["order_by"] = [[payload["metrics"][0], "desc"], [dimensions[0], "asc"]]
    payload["pagination"] = {"limit": 1000}
    return payload


def compare_reports(sides: list[Deployment]) -> None:
    """Every panel of every site over both ranges, and the two reports, equal on both sides."""
    clients = [
        httpx.Client(
            base_url=side.api_url,
            headers={"authorization": f"Bearer {side.credentials.token}"},
            timeout=60,
        )
        for side in sides
    ]
    try:
        differences = []
        answered = 0
        for site in SITES:
            for date_range in (HISTORY_RANGE, WHOLE_RANGE):
                for name, panel in PANELS.items():
                    payload = _payload(site, panel, date_range)
                    results = []
                    for client in clients:
                        answer = client.post("/api/v2/query", json=payload)
                        assert answer.status_code == 200, (name, payload, answer.text)
                        results.append(answer.json()["results"])
                    answered += bool(results[0])
                    if results[0] != results[1]:
                        differences.append(f"{site} {name} {date_range}:\n{results}")
            start, end = WHOLE_RANGE
            for report in ("traffic", "conversions"):
                params = {"site": site, "start_date": start, "end_date": end}
                answers = [c.get(f"/api/v1/reports/{report}", params=params) for c in clients]
                assert [a.status_code for a in answers] == [200, 200], answers[0].text
                if answers[0].json() != answers[1].json():
                    differences.append(f"{site} {report}: {[a.json() for a in answers]}")
        assert not differences, "\n".join(differences)
        # Most panels have rows: an empty answer on both sides would prove nothing.
        assert answered >= len(SITES) * 2 * (len(PANELS) - 3)
    finally:
        for client in clients:
            client.close()


def test_the_load_covers_what_it_should() -> None:
    """The generated load has every kind of request and visitors with several visits, and is
    the same every time (both deployments must get identical requests)."""
    visitors = generate()
    assert generate() == visitors
    steps = [step for visitor in visitors for step in visitor.steps]
    paths = {step.path.rsplit("/", 1)[0] if step.method == "GET" else step.path for step in steps}
    assert paths == {
        "/api/event",
        "/api/v1/events",
        "/api/v1/conversions",
        "/api/v1/events/batch",
        "/u",
        "/r",
    }
    names = {step.body.get("n") for step in steps if step.path == "/api/event"}
    assert {"pageview", "engagement", *CUSTOM["localhost"]} <= names
    assert any(step.to_location for step in steps)
    assert sum(visitor.visits > 1 for visitor in visitors) > VISITORS_PER_SITE
    assert sum(visitor.user_id is not None for visitor in visitors) > len(SITES)
