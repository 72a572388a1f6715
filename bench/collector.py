"""Collector benchmark: wrk drives POST /api/event on `footfall serve --role collector` over Redis.

Measures what one collector process (or `--workers N` of them behind one port) accepts when each
event must be in a Redis stream before its 202, with no worker draining the streams, over a
redis-server of the benchmark's own (or `--redis URL`). After the run the streams' lengths are
compared with the 2xx answers: every accepted event must be queued.
Prints one JSON object and writes it to bench/results/. Run with
`.venv/bin/python bench/collector.py --duration 15 --connections 32 [--workers 2]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import run_wrk  # noqa: E402
from tests.support.redis import private_redis  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402

SHARDS = 4


def queued(client: redis.Redis) -> int:
    """Entries in the queue's streams."""
    return sum(int(client.xlen(f"footfall:events:{shard}")) for shard in range(SHARDS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds of measured load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="collector processes")
    parser.add_argument(
        "--redis",
        default="",
        help="an empty Redis database to use (default: a private redis-server on a free port)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: make system-deps (apt-get install wrk)")
    with contextlib.ExitStack() as stack:
        url = args.redis or stack.enter_context(private_redis())[0]
        client = redis.Redis.from_url(url)
        if client.dbsize():
            sys.exit(f"{url} is not empty: name an unused database with --redis")
        stack.callback(client.close)
        stack.callback(client.flushdb)
        result = measure(args, url, client)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"collector-{int(time.time())}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


def measure(args: argparse.Namespace, redis_url: str, client: redis.Redis) -> dict[str, object]:
    """Start the collector, load it with wrk, and count what reached the streams."""
    queue_url = f"{redis_url}?shards={SHARDS}&max_len=10000000"
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        server = LiveServer(
            Path(tmp) / "data",
            env={
                "FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8",
                "FOOTFALL_QUEUE_URL": queue_url,
                "FOOTFALL_LOG_LEVEL": "warning",
            },
            serve_args=["--role", "collector", "--workers", str(args.workers)],
        )
        server.data_dir.mkdir(parents=True)
        server.run_cli("init")
        server.run_cli("site", "create", "--domain", "bench.example")
        server.start()
        try:
            run_wrk(server.url, 3, args.connections, args.threads)  # warm-up
            before = queued(client)
            load = run_wrk(server.url, args.duration, args.connections, args.threads)
            after = queued(client)
        finally:
            server.stop()
    seconds = load["duration_us"] / 1e6
    accepted = load["requests"] - load["non_2xx"]
    result = {
        "benchmark": "collector",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "collector_processes": args.workers,
        "duration_s": args.duration,
        "connections": args.connections,
        "requests_per_s": round(load["requests"] / seconds),
        "accepted_per_s": round(accepted / seconds),
        "non_2xx": load["non_2xx"],
        "socket_errors": sum(v for k, v in load.items() if k.startswith("errors_")),
        "p50_ms": load["p50_us"] / 1000,
        "p90_ms": load["p90_us"] / 1000,
        "p99_ms": load["p99_us"] / 1000,
        "accepted": accepted,
        "queued": after - before,
        "all_accepted_queued": after - before >= accepted,
        "private_redis": not args.redis,
    }
    return result


if __name__ == "__main__":
    main()
