"""Dashboard query benchmark: each panel's query on a demo site, median of N runs, as JSON.

Fills a DuckDB file with `footfall demo`'s generator (10M events over 30 days by default; the
file is kept and reused with --data-dir), or a ClickHouse database with --clickhouse URL, then
times every dashboard query through the one query path (`run_query`). `--start-clickhouse`
starts Debian's clickhouse-server in a temp dir (as the tests do) and benchmarks that. Prints one
JSON object and writes it to bench/results/. Run: `.venv/bin/python bench/query.py --events
10000000`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.support.factories import pageview  # noqa: E402

from footfall.meta.sites import SiteInfo  # noqa: E402
from footfall.query import GoalSpec, Query, parse_query, run_query  # noqa: E402
from footfall.store import DuckDBEventStore, EventStore  # noqa: E402
from footfall.store.demo import DemoSpec, generate_into_duckdb, generate_into_store  # noqa: E402

SITE = SiteInfo(1, "demo.localhost", "UTC", (), (), ())
GOALS = (GoalSpec(event_name="Signup"), GoalSpec(event_name="Purchase"))
RANGE = "30d"


def dashboard() -> dict[str, dict[str, Any]]:
    """The dashboard's panels as v2 query bodies."""

    def panel(dimension: str, metrics: list[str] | None = None) -> dict[str, Any]:
        return {
            "metrics": metrics or ["visitors"],
            "dimensions": [dimension],
            "pagination": {"limit": 10},
        }

    return {
        "top_stats_with_comparison": {
            "metrics": [
                "visitors",
                "visits",
                "pageviews",
                "views_per_visit",
                "bounce_rate",
                "visit_duration",
            ],
            "include": {"comparisons": {"mode": "previous_period"}},
        },
        "visitors_by_day": {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
        "pages": panel("event:page", ["visitors", "pageviews"]),
        "entry_pages": panel("visit:entry_page", ["visitors", "visits"]),
        "sources": panel("visit:source"),
        "channels": panel("visit:channel"),
        "countries": panel("visit:country"),
        "devices": panel("visit:device"),
        "browsers": panel("visit:browser"),
        # As the dashboard's goals tab asks: conversions per custom event name.
        "goals": {
            **panel("event:name", ["visitors", "events"]),
            "filters": [["is_not", "event:name", ["pageview"]]],
            "order_by": [["visitors", "desc"], ["event:name", "asc"]],
            "conversions_only": True,
        },
    }


def parsed(body: dict[str, Any]) -> Query:
    """A panel's query (`conversions_only` is the dashboard's, not a v2 field)."""
    fields = dict(body)
    conversions = bool(fields.pop("conversions_only", False))
    query = parse_query({"site_id": SITE.domain, "date_range": RANGE, **fields})
    return dataclasses.replace(query, conversions_only=conversions)


def fill(store: EventStore, events: int, days: int, end: datetime) -> float:
    """Generate the demo traffic into `store`; returns the seconds it took."""
    spec = DemoSpec(
        site_id=SITE.id, hostname=SITE.domain, events=events, days=days, seed=42, end=end
    )
    started = time.perf_counter()
    if isinstance(store, DuckDBEventStore):
        with duckdb.connect(str(store.path)) as con:
            generate_into_duckdb(con, spec)
        store.inserted_since(datetime.fromtimestamp(spec.start_ms / 1000, UTC))
    else:
        generate_into_store(store, spec)
    return time.perf_counter() - started


def time_queries(store: EventStore, runs: int, now: datetime) -> dict[str, dict[str, float]]:
    """Median and max milliseconds of each panel over `runs` runs (after one warm-up)."""
    timings: dict[str, dict[str, float]] = {}
    for name, body in dashboard().items():
        query = parsed(body)
        run_query(store, query, SITE, now=now, goals=GOALS)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            run_query(store, query, SITE, now=now, goals=GOALS)
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = {
            "median_ms": round(statistics.median(samples), 1),
            "max_ms": round(max(samples), 1),
        }
    return timings


def time_after_writes(store: EventStore, runs: int, now: datetime) -> float:
    """Median milliseconds of the whole dashboard, its panels one after another, each time
    right after a new event was stored: what a viewer sees while traffic comes in (the store
    derives nothing it keeps across that write)."""
    queries = [parsed(body) for body in dashboard().values()]
    samples = []
    for index in range(runs):
        arrival = pageview(
            site_id=SITE.id,
            visitor_id=(1 << 62) + index,
            session_id=(1 << 62) + index,
            ts=now - timedelta(minutes=1),
        )
        store.insert([arrival])
        started = time.perf_counter()
        for query in queries:
            run_query(store, query, SITE, now=now, goals=GOALS)
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def open_store(args: argparse.Namespace, data_dir: Path) -> EventStore:
    """The store to benchmark."""
    if args.clickhouse:
        from footfall.store.clickhouse import ClickHouseEventStore

        return ClickHouseEventStore(args.clickhouse)
    return DuckDBEventStore(data_dir / f"bench-{args.events}-{args.days}.duckdb")


def main() -> None:
    """Parse arguments, fill the store when empty, time the dashboard, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep and reuse the file")
    parser.add_argument("--clickhouse", default="", help="clickhouse://host:port/db instead")
    parser.add_argument("--start-clickhouse", action="store_true", help="start a local server")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="footfall-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.start_clickhouse:
        from tests.support import clickhouse

        command = clickhouse.server_command()
        if command is None:
            raise SystemExit("clickhouse-server is not installed")
        server, process = clickhouse._start(command, data_dir / "clickhouse")
        args.clickhouse = server.url("bench")
        try:
            run(args, data_dir)
        finally:
            clickhouse._stop(process)
        return
    run(args, data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    """Fill the store when empty, time the dashboard, print and save the JSON result."""
    store = open_store(args, data_dir)
    marker = data_dir / f"bench-{args.events}-{args.days}.end"
    fill_seconds = rollup_seconds = summary_seconds = 0.0
    try:
        rows = store.execute("SELECT count(*) FROM events")[0][0]
        if rows == 0:
            end = datetime.now(UTC).replace(microsecond=0)
            fill_seconds = fill(store, args.events, args.days, end)
            marker.write_text(end.isoformat())
            rows = store.execute("SELECT count(*) FROM events")[0][0]
        end = datetime.fromisoformat(marker.read_text()) if marker.exists() else datetime.now(UTC)
        if isinstance(store, DuckDBEventStore):
            # What the server's checkpoints do: roll up the visits closed by `end`, and sum
            # the days of the site its dashboard asked for.
            started = time.perf_counter()
            store.roll_up(end)
            rollup_seconds = time.perf_counter() - started
            if not store.summarised(SITE.id, SITE.timezone):
                started = time.perf_counter()
                store.roll_up(end)
                summary_seconds = time.perf_counter() - started
        timings = time_queries(store, args.runs, end)
        after_writes = time_after_writes(store, args.runs, end)
    finally:
        store.close()
    result = {
        "benchmark": "query",
        "store": "clickhouse" if args.clickhouse else "duckdb",
        "events": int(rows),
        "days": args.days,
        "fill_seconds": round(fill_seconds, 1),
        "rollup_seconds": round(rollup_seconds, 1),
        "summary_seconds": round(summary_seconds, 1),
        "runs": args.runs,
        "queries": timings,
        "dashboard_ms": round(sum(t["median_ms"] for t in timings.values()), 1),
        "dashboard_after_write_ms": after_writes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = ROOT / "bench" / "results" / f"query-{result['store']}-{args.events}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
