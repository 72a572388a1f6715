"""Dashboard benchmark: time to a fully rendered site dashboard in Chromium, and its bytes.

Fills a data directory with `footfall demo` (10M events over 30 days by default; the directory
is kept and reused with --data-dir once it holds events), creates an admin, starts a real
`footfall serve` on a free port, logs in through the login form with Playwright (Debian's
Chromium, headless) and opens the demo site's dashboard: once right after the server started
(cold: a fresh server process with DuckDB's buffers empty, the operating system's file cache as
the demo left it) and then --runs reloads (warm, median). "Rendered" is the first moment every
panel is in the page, the stylesheet applied, the graph drawn (`#chart.drawn`) and the tabs
shown (no `[role=tablist]` hidden), timed from navigation start in the page (Navigation
Timing); the next frame after it is "painted". It also records the bytes of the document,
scripts and styles as transferred and as gzip would send them, then stops the server and times
each dashboard query in-process (the server-side time of each panel, and of each tab the page
leaves for later, as fetched when it is first opened). Prints one JSON object
and writes it to bench/results/. Run: `make bench-dashboard` or `.venv/bin/python
bench/dashboard.py --events 10000000 --data-dir /work/benchdata/dashboard-10m`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from playwright.sync_api import Page, Response, sync_playwright
from starlette.datastructures import QueryParams

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.support.server import LiveServer  # noqa: E402

from footfall.api.deps import Services  # noqa: E402
from footfall.dashboard.reports import Reporter, Tab  # noqa: E402
from footfall.dashboard.state import parse_state  # noqa: E402
from footfall.meta.db import make_engine  # noqa: E402
from footfall.meta.sites import SiteDirectory  # noqa: E402
from footfall.settings import Settings  # noqa: E402
from footfall.store import open_event_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-sync"]
SITE = "demo.localhost"
ADMIN, PASSWORD = "bench-admin", "bench-dashboard-password"
TIMEOUT_MS = 180_000
# The types of request whose bytes count against the page weight target.
WEIGHED = ("document", "script", "stylesheet")

# Runs in the page before its own scripts: notes when the dashboard is complete (see above).
PROBE = """
(() => {
  const check = () => {
    if (window.__benchRendered !== undefined || document.readyState === 'loading') return;
    const root = document.querySelector('.dashboard');
    if (!root || root.querySelectorAll('.panel').length === 0) return;
    if (root.querySelector('[role="tablist"][hidden]')) return;
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
      if (!link.sheet) return;
    }
    const data = document.getElementById('graph-data');
    const points = data ? JSON.parse(data.textContent).labels.length : 0;
    const chart = document.getElementById('chart');
    if (points > 0 && !(chart && chart.classList.contains('drawn'))) return;
    window.__benchRendered = performance.now();
    requestAnimationFrame(() => setTimeout(() => { window.__benchPainted = performance.now(); }));
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'hidden'],
  });
  document.addEventListener('DOMContentLoaded', check);
  window.addEventListener('load', check);
})();
"""

TIMINGS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {
    ttfb_ms: nav.responseStart,
    document_ms: nav.responseEnd,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    first_contentful_paint_ms: fcp ? fcp.startTime : null,
    rendered_ms: window.__benchRendered,
    painted_ms: window.__benchPainted,
    panels: document.querySelectorAll('.dashboard .panel').length,
    tabs: document.querySelectorAll('.dashboard .tabpanel').length,
    rows: document.querySelectorAll('.dashboard .panel tbody tr').length,
    graph_drawn: Boolean(document.querySelector('#chart.drawn')),
  };
}
"""


class LoadSampler:
    """Samples the 1-minute load average once a second while the benchmark runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(1.0)

    @contextmanager
    def running(self) -> Iterator[LoadSampler]:
        """Sample inside the `with` block."""
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()

    def summary(self) -> dict[str, float]:
        """Min, mean and max of the samples."""
        values = self.samples or [os.getloadavg()[0]]
        return {
            "min": round(min(values), 2),
            "mean": round(statistics.fmean(values), 2),
            "max": round(max(values), 2),
        }


def count_events(data_dir: Path) -> int:
    """Events in the data directory's DuckDB file (0 when there is none yet)."""
    path = data_dir / "events.duckdb"
    if not path.exists():
        return 0
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def prepare(server: LiveServer, events: int, days: int) -> dict[str, Any]:
    """Schemas, demo events (unless the directory holds some) and the benchmark's admin."""
    server.run_cli("init")
    stored = count_events(server.data_dir)
    demo_seconds = 0.0
    if stored == 0:
        started = time.perf_counter()
        server.run_cli("demo", "--events", str(events), "--days", str(days), "--seed", "42")
        demo_seconds = time.perf_counter() - started
        stored = count_events(server.data_dir)
    created = server.run_cli(
        "user", "create", "--username", ADMIN, "--role", "admin", "--password", PASSWORD,
        check=False,
    )  # fmt: skip
    if created.returncode != 0 and "already exists" not in created.stderr + created.stdout:
        raise SystemExit(f"cannot create the benchmark admin: {created.stderr or created.stdout}")
    return {"events": stored, "demo_seconds": round(demo_seconds, 1)}


def log_in(page: Page, base: str) -> None:
    """Through the login form, landing on the (store-free) account page."""
    page.goto(f"{base}/login?next=/account")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/account")


def measure(page: Page, load: Callable[[], Response | None]) -> dict[str, Any]:
    """One navigation until the dashboard has rendered; its timings from navigation start."""
    answer = load()
    if answer is None or answer.status != 200:
        raise SystemExit(f"dashboard answered {answer.status if answer else 'nothing'}")
    page.wait_for_function("() => window.__benchPainted !== undefined", timeout=TIMEOUT_MS)
    timings: dict[str, Any] = page.evaluate(TIMINGS)
    for key, value in timings.items():
        if isinstance(value, float):
            timings[key] = round(value, 1)
    return timings


def weigh(responses: list[Response]) -> dict[str, Any]:
    """Bytes of the document, scripts and styles: on the wire, uncompressed, and gzipped."""
    files = []
    for response in responses:
        kind = response.request.resource_type
        if kind not in WEIGHED:
            continue
        body = response.body()
        sizes = response.request.sizes()
        files.append(
            {
                "type": kind,
                "path": response.url.split("/", 3)[-1].split("?", 1)[0],
                "content_encoding": response.headers.get("content-encoding", ""),
                "transferred_bytes": sizes["responseBodySize"] + sizes["responseHeadersSize"],
                "body_bytes": len(body),
                "gzip6_bytes": len(gzip.compress(body, 6)),
                "gzip9_bytes": len(gzip.compress(body, 9)),
            }
        )
    keys = ("transferred_bytes", "body_bytes", "gzip6_bytes", "gzip9_bytes")
    totals = {key: sum(item[key] for item in files) for key in keys}
    return {"files": files, "totals": totals}


def browse(base: str, runs: int) -> dict[str, Any]:
    """Log in, then the cold load and `runs` warm reloads of the demo site's dashboard."""
    url = f"{base}/sites/{SITE}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(PROBE)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, base)
            responses: list[Response] = []

            def note(response: Response) -> None:
                responses.append(response)

            page.on("response", note)
            cold = measure(page, lambda: page.goto(url, wait_until="commit"))
            page.remove_listener("response", note)
            weight = weigh(responses)
            # Not weighed: e.g. the live visitor counter's event stream.
            others = sorted({r.request.resource_type for r in responses} - set(WEIGHED))
            warm = [measure(page, lambda: page.reload(wait_until="commit")) for _ in range(runs)]
            browser_version = browser.version
        finally:
            browser.close()
    if errors:
        raise SystemExit(f"the dashboard raised errors: {errors}")
    keys = [key for key in warm[0] if key.endswith("_ms")]
    # First contentful paint may be missing from a run: median and max of the runs that have it.
    seen = {key: [w[key] for w in warm if w[key] is not None] or [0.0] for key in keys}
    return {
        "chromium": browser_version,
        "cold": cold,
        "warm_median": {key: round(statistics.median(seen[key]), 1) for key in keys},
        "warm_max": {key: round(max(seen[key]), 1) for key in keys},
        "warm_rendered_ms": [w["rendered_ms"] for w in warm],
        "warm_ttfb_ms": [w["ttfb_ms"] for w in warm],
        "weight": weight,
        "other_requests": others,
    }


class TimedReporter(Reporter):
    """The dashboard's Reporter, noting the milliseconds of each tab's query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tab_ms: dict[str, float] = {}

    def breakdown(self, key: str, label: str, dimension: str, **kwargs: Any) -> Tab:
        started = time.perf_counter()
        tab = super().breakdown(key, label, dimension, **kwargs)
        self.tab_ms[key] = (time.perf_counter() - started) * 1000
        return tab

    def goals(self, total_visitors: int | float) -> Tab:
        started = time.perf_counter()
        tab = super().goals(total_visitors)
        self.tab_ms["goals"] = (time.perf_counter() - started) * 1000
        return tab


def one_dashboard(services: Services) -> dict[str, float]:
    """What `build_dashboard` runs, step by step: milliseconds per step, panel and tab."""
    site = services.sites.lookup(SITE)
    if site is None:
        raise SystemExit(f"no site {SITE}")
    reporter = TimedReporter(services, site, parse_state(QueryParams("")))
    steps: dict[str, float] = {}
    first = started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        steps[name] = (now - started) * 1000
        started = now

    _, _, total = reporter.stats()
    lap("top stats")
    reporter.graph()
    lap("graph")
    panels = reporter.panels(total, every_tab=False)
    lap("panels")
    for panel in panels:
        loaded = [tab for tab in panel.tabs if tab.loaded]
        steps[f"panel {panel.key}"] = sum(reporter.tab_ms[tab.key] for tab in loaded)
        for tab in loaded:
            steps[f"tab {panel.key}/{tab.key}"] = reporter.tab_ms[tab.key]
    steps["dashboard"] = (time.perf_counter() - first) * 1000
    # The tabs the page leaves for later, each as fetched when it is first opened.
    for panel in panels:
        for tab in panel.tabs:
            if not tab.loaded:
                started = time.perf_counter()
                reporter.tab(panel.key, tab.key)
                lap(f"later tab {panel.key}/{tab.key}")
    return steps


def server_side(data_dir: Path, runs: int) -> dict[str, Any]:
    """Each dashboard step's median milliseconds, in-process on the stopped server's files."""
    settings = Settings.load(environ={"FOOTFALL_DATA_DIR": str(data_dir)}).with_secret()
    engine = make_engine(settings.database_url)
    store = open_event_store(settings)
    try:
        services = Services(settings, engine, SiteDirectory(engine), store)
        samples = [one_dashboard(services) for _ in range(runs)]
    finally:
        store.close()
        engine.dispose()
    medians = {step: round(statistics.median(s[step] for s in samples), 1) for step in samples[0]}
    return {"runs": runs, "median_ms": medians}


def main() -> None:
    """Parse arguments; without --data-dir, the data lives in a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=10, help="warm reloads")
    parser.add_argument("--server-runs", type=int, default=3, help="in-process dashboards")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep and reuse the data")
    args = parser.parse_args()
    if args.data_dir is not None:
        run(args, args.data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        run(args, Path(tmp) / "data")


def run(args: argparse.Namespace, data_dir: Path) -> None:
    """Prepare `data_dir`, measure in the browser and in-process, print and save the JSON."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"FOOTFALL_ADMIN_USER": ADMIN, "FOOTFALL_ADMIN_PASSWORD": PASSWORD}
    server = LiveServer(data_dir, env=env)
    data = prepare(server, args.events, args.days)
    sampler = LoadSampler()
    with sampler.running():
        started = time.perf_counter()
        server.start(timeout=300)
        start_seconds = time.perf_counter() - started
        try:
            browser = browse(server.url, args.runs)
        finally:
            server.stop()
        backend = server_side(data_dir, args.server_runs) if args.server_runs else None
    result = {
        "benchmark": "dashboard",
        "store": "duckdb",
        "site": SITE,
        "period": "30d",
        **data,
        "days": args.days,
        "server_start_seconds": round(start_seconds, 1),
        "runs": args.runs,
        "rendered_ms": {
            "cold": browser["cold"]["rendered_ms"],
            "warm_median": browser["warm_median"]["rendered_ms"],
        },
        "target_ms": 1000,
        "weight_target_gzip_bytes": 150_000,
        "browser": browser,
        "server_side": backend,
        "load_average_1m": sampler.summary(),
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "data_dir": str(data_dir),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = ROOT / "bench" / "results" / f"dashboard-{data['events']}-{int(time.time())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
