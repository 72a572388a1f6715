"""Ingest benchmark: wrk drives POST /api/event on one `footfall serve`; accepted AND stored.

Prints one JSON object (machine-readable) and writes it to bench/results/. Run with
`make bench` or `.venv/bin/python bench/ingest.py --duration 30 --connections 32`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import LiveServer  # noqa: E402

SCRIPT = ROOT / "src" / "footfall" / "collect" / "static" / "script.js"


def run_wrk(url: str, duration: int, connections: int, threads: int) -> dict[str, int]:
    """One wrk run; returns the JSON line its Lua `done` hook prints."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "ingest.lua"),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("JSON "))
    result: dict[str, int] = json.loads(line[5:])
    return result


def accepted_total(url: str) -> int:
    """Sum of footfall_events_accepted_total over endpoints, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = r"^footfall_events_accepted_total\{[^}]*\} ([0-9.e+]+)$"
    return int(sum(float(value) for value in re.findall(pattern, text, re.MULTILINE)))


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of a process (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=30, help="seconds of measured load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: make system-deps (apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        server = LiveServer(
            Path(tmp) / "data",
            env={"FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8", "FOOTFALL_LOG_LEVEL": "warning"},
        )
        server.data_dir.mkdir(parents=True)
        server.run_cli("init")
        server.run_cli("site", "create", "--domain", "bench.example")
        server.start()
        assert server.process is not None
        pid = server.process.pid
        run_wrk(server.url, 3, args.connections, args.threads)  # warm-up: caches, JIT of paths
        started = time.monotonic()
        load = run_wrk(server.url, args.duration, args.connections, args.threads)
        elapsed = time.monotonic() - started
        accepted = accepted_total(server.url)
        rss = peak_rss_mb(pid)
        drain_started = time.monotonic()
        server.stop()
        drain_s = time.monotonic() - drain_started
        with duckdb.connect(str(server.data_dir / "events.duckdb"), read_only=True) as con:
            row = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
            assert row is not None
            stored, distinct = int(row[0]), int(row[1])

    measured = load["requests"] - load["non_2xx"]
    result = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "duration_s": args.duration,
        "connections": args.connections,
        "requests_per_s": round(load["requests"] / (load["duration_us"] / 1e6)),
        "accepted_per_s": round(measured / (load["duration_us"] / 1e6)),
        "non_2xx": load["non_2xx"],
        "socket_errors": sum(v for k, v in load.items() if k.startswith("errors_")),
        "p50_ms": load["p50_us"] / 1000,
        "p90_ms": load["p90_us"] / 1000,
        "p99_ms": load["p99_us"] / 1000,
        "accepted_total": accepted,
        "stored_total": stored,
        "stored_distinct": distinct,
        "all_accepted_stored": stored == accepted == distinct,
        "peak_rss_mb": round(rss, 1),
        "drain_on_sigterm_s": round(drain_s, 2),
        "tracker_bytes": SCRIPT.stat().st_size,
        "tracker_gzip_bytes": len(gzip.compress(SCRIPT.read_bytes(), 9)),
        "wall_s": round(elapsed, 1),
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"ingest-{int(time.time())}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
