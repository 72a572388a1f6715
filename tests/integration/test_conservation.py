"""Conservation: every event sent is either stored exactly once or counted as dropped by reason.

A real `footfall serve` takes a concurrent mix of good events, bots, unknown sites and an excluded
path; the server's drop counters plus the stored rows must add up to exactly what was sent.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from footfall.meta.db import make_engine, session_scope
from footfall.meta.models import Site
from tests.support.app import BROWSER_UA
from tests.support.server import LiveServer

BOT_UAS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
]


def plan(count: int, seed: int) -> list[tuple[dict[str, object], str, str]]:
    """(payload, user agent, expected outcome) for `count` events, shuffled."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        tag = uuid.uuid4().hex
        kind = rng.choices(["stored", "bot", "unknown_site", "excluded_path"], [7, 1, 1, 1])[0]
        domain = "nowhere.example" if kind == "unknown_site" else "localhost"
        path = f"/private/{tag}" if kind == "excluded_path" else f"/{tag}"
        user_agent = rng.choice(BOT_UAS) if kind == "bot" else BROWSER_UA
        payload = {"n": "pageview", "u": f"https://{domain}{path}", "d": domain}
        events.append((payload, user_agent, kind))
    return events


def dropped_counts(url: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == "footfall_events_dropped_total":
                counts[sample.labels["reason"]] += int(sample.value)
    return counts


def test_events_sent_equal_events_stored_plus_dropped_by_reason(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data")
    server.data_dir.mkdir(parents=True)
    server.run_cli("init")
    engine = make_engine(f"sqlite:///{server.data_dir / 'footfall.sqlite3'}")
    with session_scope(engine) as session:
        session.query(Site).filter_by(domain="localhost").one().excluded_paths = ["/private/*"]
    engine.dispose()
    server.start()
    events = plan(1200, seed=7)
    answers: list[tuple[int, str | None]] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def send(event: tuple[dict[str, object], str, str]) -> tuple[int, str | None]:
            payload, user_agent, _ = event
            response = client.post("/api/event", json=payload, headers={"user-agent": user_agent})
            return response.status_code, response.headers.get("x-footfall-dropped")

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(send, events))
    dropped = dropped_counts(server.url)
    server.stop()
    stored = server.events()

    expected = Counter(kind for _, _, kind in events)
    assert all(status == 202 for status, _ in answers)
    assert Counter(reason or "stored" for _, reason in answers) == expected
    assert len(stored) == expected["stored"]
    assert len({row["event_id"] for row in stored}) == len(stored)
    assert {row["pathname"] for row in stored} == {
        f"/{payload['u'].rsplit('/', 1)[1]}"  # type: ignore[union-attr]
        for payload, _, kind in events
        if kind == "stored"
    }
    assert len(stored) + sum(dropped.values()) == len(events)
    assert {reason: count for reason, count in dropped.items() if count} == {
        reason: count for reason, count in expected.items() if reason != "stored"
    }
