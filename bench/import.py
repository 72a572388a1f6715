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
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.accesslog import generate  # noqa: E402

from footfall.cli.importer import open_importer  # noqa: E402
from footfall.links import service  # noqa: E402
from footfall.meta.db import make_engine, session_scope  # noqa: E402
from footfall.meta.migrate import upgrade  # noqa: E402
from footfall.meta.sites import create_site  # noqa: E402
from footfall.settings import Settings  # noqa: E402


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
