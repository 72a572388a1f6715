"""Scale-out benchmark: collectors -> Redis -> workers -> ClickHouse on this machine.

Three measurements, on a redis-server and a clickhouse-server of the benchmark's own and a fresh
PostgreSQL schema for the metadata:

1. End to end: wrk posts varied events (bench/ingest.lua) to `footfall serve --role collector`
   processes (1, then 2, each on its own port with its own wrk and half the connections, as a
   load balancer would split them) while 2 `footfall worker` processes (shards 0-1 and 2-3)
   insert into ClickHouse. The clock runs from the start of the load until the last accepted
   event is in ClickHouse; every accepted event must be stored, once.
2. Log import: `footfall import access-log` (the CLI, as an operator runs it) over a generated
   combined-format log (tests/support/accesslog.py, default 1,000,000 lines) into the Redis
   queue, with no worker running; its counts are checked against the generator.
3. Worker insert rate: the 2 workers then drain that backlog into ClickHouse (enrichment,
   sessions and inserts: what a worker does per row), and the store's own insert of ready rows
   in batches of FOOTFALL_BATCH_SIZE is timed alone.

Prints one JSON object and writes it to bench/results/scale-<time>.json. Run with
`make bench-scale` or `.venv/bin/python bench/scale.py --duration 20 --lines 1000000`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from clickhouse_driver import Client  # type: ignore[import-untyped]  # ships no type hints

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import accepted_total, run_wrk  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.support.accesslog import generate  # noqa: E402
from tests.support.accounts import postgres_metadata_url  # noqa: E402
from tests.support.clickhouse import PrivateServer  # noqa: E402
from tests.support.redis import private_redis  # noqa: E402
from tests.support.scaleout import SECRET, WorkerProcess  # noqa: E402
from tests.support.server import FOOTFALL, LiveServer  # noqa: E402

from footfall.store.clickhouse import ClickHouseEventStore  # noqa: E402

SHARDS = 4
WORKER_SHARDS = ("0-1", "2-3")
BATCH_SIZE = 20_000
SITE = "bench.example"
_SUMMARY = re.compile(r"(\d+) lines in ([\d.]+) s \(([\d,]+) lines/s\)")


class Bench:
    """The shared servers and settings of one benchmark run."""

    def __init__(
        self, root: Path, redis_url: str, redis_pid: int, clickhouse: PrivateServer, meta_url: str
    ) -> None:
        self.root = root
        self.redis = redis.Redis.from_url(redis_url)
        self.redis_pid = redis_pid
        self.clickhouse = clickhouse
        self.env = {
            "FOOTFALL_QUEUE_URL": f"{redis_url}?shards={SHARDS}&max_len=10000000",
            "FOOTFALL_DATABASE_URL": meta_url,
            "FOOTFALL_SECRET_KEY": SECRET,
            "FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8",
            "FOOTFALL_BATCH_SIZE": str(BATCH_SIZE),
            "FOOTFALL_FLUSH_INTERVAL": "1.0",
            "FOOTFALL_LOG_LEVEL": "warning",
        }
        self._databases = 0

    def fresh_events_url(self) -> str:
        """A new ClickHouse database for the next measurement."""
        self._databases += 1
        return self.clickhouse.server.url(f"bench_scale_{self._databases}")

    def queued(self) -> int:
        """Entries in the queue's streams (not yet stored)."""
        return sum(int(self.redis.xlen(f"footfall:events:{shard}")) for shard in range(SHARDS))

    def setup(self) -> None:
        """Metadata schema, the first admin, the site and the link the log's clicks use."""
        env = {**self.env, "FOOTFALL_EVENTS_URL": self.fresh_events_url()}
        self.cli(env, "init")
        self.cli(env, "site", "create", "--domain", SITE)
        self.cli(
            env,
            "links",
            "create",
            "--site",
            SITE,
            "--code",
            "bench",
            "--url",
            f"https://{SITE}/landing",
        )

    def cli(
        self, env: dict[str, str], *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a `footfall` subcommand with `env` (by default its data dir under the root)."""
        full = {**os.environ, "FOOTFALL_DATA_DIR": str(self.root / f"cli-{args[0]}"), **env}
        done = subprocess.run([FOOTFALL, *args], env=full, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"footfall {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done

    def workers(self, events_url: str, name: str) -> list[WorkerProcess]:
        env = {**self.env, "FOOTFALL_EVENTS_URL": events_url}
        return [
            WorkerProcess(self.root / f"{name}-worker{index}", env, shards).start()
            for index, shards in enumerate(WORKER_SHARDS)
        ]


def stored(events_url: str, distinct: bool = False) -> int:
    """Rows in the events table of `events_url` (or distinct event ids)."""
    client = Client.from_url(events_url)
    try:
        what = "uniqExact(event_id)" if distinct else "count()"
        return int(client.execute(f"SELECT {what} FROM events")[0][0])
    finally:
        client.disconnect()


def settled_accepted(servers: list[LiveServer]) -> int:
    """The collectors' accepted events once the count stops moving: requests wrk left in
    flight when it stopped are still answered (and counted) after it returns."""
    previous = -1
    while True:
        total = sum(accepted_total(server.url) for server in servers)
        if total == previous:
            return total
        previous = total
        time.sleep(0.5)


def wait_until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu_s() -> float:
    """CPU seconds every core has spent busy (not idle or waiting for I/O) so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _TICKS


class CpuMeter:
    """CPU seconds each named group of processes, and the whole machine, used meanwhile."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self._groups = groups
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        used = {name: sum(map(process_cpu_s, pids)) for name, pids in self._groups.items()}
        used["machine"] = machine_cpu_s()
        return used

    def per_event_us(self, events: int) -> dict[str, float]:
        """Microseconds of CPU per event, by group; `other` is the rest of the machine (the
        load generator, and whatever else ran)."""
        end = self._read()
        spent = {name: end[name] - self._start[name] for name in end}
        spent["other"] = spent["machine"] - sum(
            value for name, value in spent.items() if name != "machine"
        )
        return {name: round(value / events * 1e6, 1) for name, value in spent.items()}


class DepthSampler:
    """The largest queue depth seen while it runs (sampled every 0.25 s)."""

    def __init__(self, bench: Bench) -> None:
        self._bench = bench
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DepthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, self._bench.queued())


def end_to_end(bench: Bench, collectors: int, duration: int, connections: int) -> dict[str, Any]:
    """Load `collectors` collector processes with wrk; time until ClickHouse holds it all."""
    events_url = bench.fresh_events_url()
    env = {**bench.env, "FOOTFALL_EVENTS_URL": events_url}
    servers = [
        LiveServer(
            bench.root / f"c{collectors}-collector{index}",
            env=env,
            serve_args=["--role", "collector"],
        )
        for index in range(collectors)
    ]
    workers: list[WorkerProcess] = []
    try:
        for server in servers:
            server.start()
        workers = bench.workers(events_url, f"c{collectors}")
        per = max(1, connections // collectors)
        _wrk_all(servers, 3, per)  # warm-up (caches, connections); its events count as base
        base_accepted = settled_accepted(servers)
        wait_until(lambda: stored(events_url) >= base_accepted, 120, "the warm-up to be stored")
        base_stored = stored(events_url)
        cpu = CpuMeter(
            {
                "collectors": [server.process.pid for server in servers if server.process],
                "workers": [worker.process.pid for worker in workers if worker.process],
                "redis": [bench.redis_pid],
                "clickhouse": [bench.clickhouse.pid],
            }
        )
        with DepthSampler(bench) as depth:
            started = time.monotonic()
            loads = _wrk_all(servers, duration, per)
            load_s = time.monotonic() - started
            accepted = settled_accepted(servers) - base_accepted
            wait_until(
                lambda: stored(events_url) - base_stored >= accepted, 600, "every event stored"
            )
            total_s = time.monotonic() - started
            cpu_us = cpu.per_event_us(accepted)
        rows, distinct = stored(events_url), stored(events_url, distinct=True)
    finally:
        for worker in workers:
            worker.stop()
        for server in servers:
            server.stop()
    requests = sum(load["requests"] for load in loads)
    return {
        "collectors": collectors,
        "workers": len(WORKER_SHARDS),
        "connections": per * collectors,
        "load_s": round(load_s, 1),
        "accepted": accepted,
        "non_2xx": sum(load["non_2xx"] for load in loads),
        "accepted_per_s": round(accepted / load_s),
        "requests_per_s": round(requests / load_s),
        "p99_ms": max(load["p99_us"] for load in loads) / 1000,
        "peak_queue_depth": depth.peak,
        "all_stored_after_s": round(total_s, 1),
        "end_to_end_events_per_s": round(accepted / total_s),
        "cpu_us_per_event": cpu_us,
        "stored_rows": rows - base_stored,
        "stored_distinct": distinct - base_stored,
        "stored_once": rows == distinct and rows - base_stored == accepted,
    }


def _wrk_all(servers: list[LiveServer], duration: int, connections: int) -> list[dict[str, int]]:
    """One wrk per server, all at once."""
    results: list[dict[str, int]] = [{} for _ in servers]

    def one(index: int) -> None:
        results[index] = run_wrk(servers[index].url, duration, connections, 1)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def log_import(bench: Bench, log: Path, expected: dict[str, int], jobs: int) -> dict[str, Any]:
    """`footfall import access-log` of the generated log into the emptied Redis queue."""
    bench.redis.flushdb()
    env = {**bench.env, "FOOTFALL_DATA_DIR": str(bench.root / f"import-{jobs}")}
    cpu = CpuMeter({"redis": [bench.redis_pid]})
    started = time.monotonic()
    done = bench.cli(env, "import", "access-log", "--site", SITE, "--jobs", str(jobs), str(log))
    wall_s = time.monotonic() - started
    cpu_us = cpu.per_event_us(expected["lines"])
    match = _SUMMARY.search(done.stderr)
    if match is None:
        raise RuntimeError(f"no summary in the importer's output:\n{done.stderr[-3000:]}")
    queued = bench.queued()
    lines = int(match.group(1))
    return {
        "lines": lines,
        "jobs": jobs,
        "seconds": float(match.group(2)),
        "lines_per_s": int(match.group(3).replace(",", "")),
        "wall_s_with_start_up": round(wall_s, 1),
        "events_queued": queued,
        # `other`: the importer's processes (and whatever else ran)
        "cpu_us_per_line": cpu_us,
        "exact": lines == expected["lines"]
        and queued == expected["pageviews"] + expected["clicks"],
    }


def drain(bench: Bench) -> dict[str, Any]:
    """2 workers move the queued backlog into a fresh ClickHouse database."""
    backlog = bench.queued()
    events_url = bench.fresh_events_url()
    workers = bench.workers(events_url, "drain")
    try:
        # Timed from when both answer /healthz (process start-up left out).
        started, already = time.monotonic(), stored(events_url)
        cpu = CpuMeter(
            {
                "workers": [worker.process.pid for worker in workers if worker.process],
                "redis": [bench.redis_pid],
                "clickhouse": [bench.clickhouse.pid],
            }
        )
        wait_until(lambda: stored(events_url) >= backlog, 900, "the backlog to be stored")
        seconds = time.monotonic() - started
        cpu_us = cpu.per_event_us(backlog - already)
        rows, distinct = stored(events_url), stored(events_url, distinct=True)
    finally:
        for worker in workers:
            worker.stop()
    return {
        "workers": len(workers),
        "batch_size": BATCH_SIZE,
        "rows": backlog,
        "seconds": round(seconds, 1),
        "rows_per_s": round((backlog - already) / seconds),
        "cpu_us_per_row": cpu_us,
        "stored_once": rows == distinct == backlog,
    }


def raw_insert(bench: Bench, rows: int) -> dict[str, Any]:
    """ClickHouseEventStore.insert of ready rows in batches of BATCH_SIZE (no enrichment)."""
    start = datetime.now(UTC) - timedelta(days=1)
    events = [
        factories.pageview(
            event_id=index.to_bytes(16, "big"),
            ts=start + timedelta(milliseconds=index * 37),
            visitor_id=1 + index % 5000,
            session_id=1 + index % 9000,
            pathname=f"/page/{index % 50}",
        )
        for index in range(rows)
    ]
    store = ClickHouseEventStore(bench.fresh_events_url())
    try:
        started = time.perf_counter()
        for first in range(0, rows, BATCH_SIZE):
            store.insert(events[first : first + BATCH_SIZE], batch_id=first + 1)
        seconds = time.perf_counter() - started
        count = int(store.execute("SELECT count() FROM events")[0][0])
    finally:
        store.close()
    return {
        "rows": rows,
        "batch_size": BATCH_SIZE,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "exact": count == rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections in all")
    parser.add_argument("--lines", type=int, default=1_000_000, help="access log lines")
    parser.add_argument("--insert-rows", type=int, default=200_000, help="raw insert rows")
    args = parser.parse_args()
    # clickhouse-driver logs every refused connect while the private server starts.
    logging.basicConfig(level=logging.ERROR)
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: make system-deps")
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="footfall-scale-")))
        redis_url, redis_pid = stack.enter_context(private_redis())
        clickhouse = PrivateServer(root / "clickhouse")
        stack.callback(clickhouse.close)
        meta_url = stack.enter_context(postgres_metadata_url())
        bench = Bench(root, redis_url, redis_pid, clickhouse, meta_url)
        bench.setup()
        runs = [end_to_end(bench, n, args.duration, args.connections) for n in (1, 2)]
        log = root / "access.log"
        expected = generate(log, args.lines)
        imports = [log_import(bench, log, expected, jobs) for jobs in (1, 2)]
        drained = drain(bench)
        inserted = raw_insert(bench, args.insert_rows)
    one, two = runs
    result = {
        "benchmark": "scale",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "duration_s": args.duration,
        "end_to_end": runs,
        "two_to_one_collectors": round(
            two["end_to_end_events_per_s"] / one["end_to_end_events_per_s"], 2
        ),
        "log_import": imports,
        "worker_drain": drained,
        "clickhouse_insert": inserted,
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"scale-{int(time.time())}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
