"""Redirect benchmark: wrk drives `/u/{code}/{token}` over 10,000 links on one `footfall serve`.

Then the open pixel `/r/{code}/{token}.gif`. Every click and open must be stored: the server is
stopped (which drains the queue) and the DuckDB file is counted against the /metrics counters.
Prints one JSON object and writes it to bench/results/. Run with
`.venv/bin/python bench/redirect.py --duration 20 --connections 32`.
"""

from __future__ import annotations

import argparse
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

from footfall.links import service  # noqa: E402
from footfall.links.tokens import TokenSigner  # noqa: E402
from footfall.meta.db import make_engine, session_scope  # noqa: E402
from footfall.meta.sites import get_site  # noqa: E402

LINKS = 10_000
RECIPIENTS_PER_LINK = 5  # 50,000 distinct paths


def run_wrk(url: str, duration: int, connections: int, paths: Path) -> dict[str, int]:
    """One wrk run over the listed paths; returns the JSON line its Lua `done` hook prints."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "redirect.lua"),
        url,
    ]
    env = {**os.environ, "FOOTFALL_BENCH_PATHS": str(paths)}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    line = next(line for line in output.splitlines() if line.startswith("JSON "))
    result: dict[str, int] = json.loads(line[5:])
    return result


def accepted(url: str, endpoint: str) -> int:
    """footfall_events_accepted_total for one endpoint label, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = rf'^footfall_events_accepted_total\{{endpoint="{endpoint}"\}} ([0-9.e+]+)$'
    return int(sum(float(value) for value in re.findall(pattern, text, re.MULTILINE)))


def make_links(server: LiveServer, work: Path) -> tuple[Path, Path]:
    """10,000 links in one campaign; files of click paths and pixel paths with tokens."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'footfall.sqlite3'}")
    try:
        with session_scope(engine) as session:
            site = get_site(session, "localhost")
            assert site is not None
            campaign = service.create_campaign(session, site_id=site.id, name="bench")
            codes = [
                service.create_link(
                    session,
                    site_id=site.id,
                    campaign_id=campaign.id,
                    url=f"https://shop.example/product/{n}?ref=letter",
                ).code
                for n in range(LINKS)
            ]
            campaign_code = campaign.code
    finally:
        engine.dispose()
    signer = TokenSigner((server.data_dir / "secret_key").read_text().strip())
    clicks, pixels = work / "clicks.txt", work / "pixels.txt"
    with clicks.open("w") as click_file, pixels.open("w") as pixel_file:
        for n, code in enumerate(codes):
            for r in range(RECIPIENTS_PER_LINK):
                token = signer.sign(f"reader{n * RECIPIENTS_PER_LINK + r}@example.com")
                click_file.write(f"/u/{code}/{token}\n")
                pixel_file.write(f"/r/{campaign_code}/{token}.gif\n")
    return clicks, pixels


def _rates(load: dict[str, int]) -> dict[str, float]:
    seconds = load["duration_us"] / 1e6
    return {
        "requests_per_s": round(load["requests"] / seconds),
        "non_expected": load["non_2xx"],
        "socket_errors": sum(v for k, v in load.items() if k.startswith("errors_")),
        "p50_ms": load["p50_us"] / 1000,
        "p99_ms": load["p99_us"] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: make system-deps (apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        server = LiveServer(Path(tmp) / "data", env={"FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8"})
        server.data_dir.mkdir(parents=True)
        server.run_cli("init")
        clicks_file, pixels_file = make_links(server, Path(tmp))
        server.start()
        run_wrk(server.url, 3, args.connections, clicks_file)  # warm-up: link directory, caches
        clicks = run_wrk(server.url, args.duration, args.connections, clicks_file)
        pixels = run_wrk(server.url, args.duration, args.connections, pixels_file)
        accepted_clicks = accepted(server.url, "click")
        accepted_opens = accepted(server.url, "open")
        server.stop()
        with duckdb.connect(str(server.data_dir / "events.duckdb"), read_only=True) as con:
            stored = dict(con.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())

    result = {
        "benchmark": "redirect",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "links": LINKS,
        "duration_s": args.duration,
        "connections": args.connections,
        "redirect": _rates(clicks),
        "pixel": _rates(pixels),
        "accepted_clicks": accepted_clicks,
        "stored_clicks": int(stored.get("click", 0)),
        "accepted_opens": accepted_opens,
        "stored_opens": int(stored.get("open", 0)),
        "every_click_stored": int(stored.get("click", 0)) == accepted_clicks,
        "every_open_stored": int(stored.get("open", 0)) == accepted_opens,
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"redirect-{int(time.time())}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
