"""Access-log import benchmark: parse + queue lines/s over a generated combined-format log.

Generates a log (default 1,000,000 lines: pageviews from many visitors and browsers, assets,
bots, errors and link clicks), imports it into an embedded spool with `footfall import
access-log`'s own importer and checks every count against what was generated. Prints one JSON
object and writes it to bench/results/. Run with `.venv/bin/python bench/import.py --lines 1000000`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from footfall.cli.importer import open_importer  # noqa: E402
from footfall.links import service  # noqa: E402
from footfall.meta.db import make_engine, session_scope  # noqa: E402
from footfall.meta.migrate import upgrade  # noqa: E402
from footfall.meta.sites import create_site  # noqa: E402
from footfall.settings import Settings  # noqa: E402

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
]
BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
PAGES = ["/", "/pricing", "/blog/launch", "/docs/install?x=1", "/about", "/signup"]
ASSETS = ["/css/site.css", "/js/app.js", "/img/logo.png", "/favicon.ico"]


# First octets of special-purpose IPv4 blocks (private, loopback, shared, documentation,
# multicast, reserved): never a visitor's public address.
_SPECIAL_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, *range(224, 256)})
_PUBLIC_FIRST_OCTETS = [octet for octet in range(1, 224) if octet not in _SPECIAL_FIRST_OCTETS]
# A visitor's requests: mostly pages and their assets, some missing pages and tracked links.
_REQUESTS = ["page"] * 13 + ["asset"] * 4 + ["error", "click"]


def _public_address(rng: random.Random) -> str:
    octets = (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    return f"{rng.choice(_PUBLIC_FIRST_OCTETS)}.{octets[0]}.{octets[1]}.{octets[2]}"


def generate(path: Path, lines: int, *, distinct: bool = False) -> Counter[str]:
    """Write `lines` log lines; returns the counts the importer must report.

    As a server logs them: about 200 visitors at a time, each from its own public address and
    browser (one in twenty a crawler), making 1 to 30 requests (15 on average) interleaved
    with the others'. With `distinct`, every line comes from a new address: the worst case for
    the per-visitor caches (address location, visitor hash).
    """
    rng = random.Random(7)
    expected: Counter[str] = Counter()
    start = datetime(2026, 5, 1, tzinfo=UTC)
    active: list[list[Any]] = []  # [address, agent, requests left]
    with path.open("w") as handle:
        for n in range(lines):
            when = (start + timedelta(seconds=n // 50)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            while len(active) < 200:
                agent = BOT if rng.random() < 0.05 else rng.choice(AGENTS)
                active.append([_public_address(rng), agent, rng.randint(1, 30)])
            slot = rng.randrange(len(active))
            visitor = active[slot]
            ip, agent = (_public_address(rng), visitor[1]) if distinct else visitor[:2]
            visitor[2] -= 1
            if visitor[2] == 0:
                active[slot] = active[-1]
                active.pop()
            request, status = rng.choice(_REQUESTS), 200
            if request == "page":
                target = rng.choice(PAGES)
                kind = "bots" if agent == BOT else "pageviews"
            elif request == "asset":
                target, kind = rng.choice(ASSETS), "assets"
            elif request == "error":
                target, kind, status = "/missing", "errors", 404
            else:
                target, kind, status = "/u/bench", "clicks", 302
            expected[kind] += 1
            handle.write(
                f'{ip} - - [{when}] "GET {target} HTTP/1.1" {status} 1024 '
                f'"https://www.google.com/" "{agent}"\n'
            )
    expected["lines"] = lines
    return expected


def main() -> None:
    """Generate, import, check, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--distinct-addresses", action="store_true", help="every line from a new address"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="footfall-import-bench-") as folder:
        data_dir = Path(folder) / "data"
        settings = Settings.load(
            environ={
                "FOOTFALL_DATA_DIR": str(data_dir),
                "FOOTFALL_SPOOL_MAX_BYTES": str(8 << 30),
            }
        ).with_secret()
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            site = create_site(session, "bench.example")
            service.create_link(
                session, site_id=site.id, url="https://bench.example/landing", code="bench"
            )
        engine.dispose()
        log = Path(folder) / "access.log"
        expected = generate(log, args.lines, distinct=args.distinct_addresses)
        size = log.stat().st_size
        with open_importer(settings, "bench.example", jobs=args.jobs) as importer:
            started = time.perf_counter()
            counts = importer.import_file(log)
            elapsed = time.perf_counter() - started
        reported = counts.as_dict()
        mismatched = {k: (v, reported[k]) for k, v in expected.items() if reported[k] != v}
        result = {
            "benchmark": "import",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
            "python": platform.python_version(),
            "lines": args.lines,
            "log": "distinct-addresses" if args.distinct_addresses else "visitors",
            "jobs": args.jobs,
            "bytes": size,
            "seconds": round(elapsed, 2),
            "lines_per_s": round(args.lines / elapsed),
            "events_queued": counts.events,
            "counts": reported,
            "exact": not mismatched,
        }
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"import-{int(time.time())}.json").write_text(json.dumps(result, indent=2) + "\n")
    if mismatched:
        raise SystemExit(f"counts differ from the generated log: {mismatched}")


if __name__ == "__main__":
    main()
