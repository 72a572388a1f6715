"""IP location benchmark: `footfall.enrich.geo.locate` with cache misses and hits, and memory.

Each lookup measurement runs in a fresh interpreter so that its memory figures are its own: the
city database (DB-IP City Lite, the bundled copy or FOOTFALL_GEOIP_CITY_PATH's) and the
country-only fallback (geoip2fast). It also compares the two sources' countries on the same
addresses, and measures a real `footfall serve` process's memory at rest and after pageviews from
distinct addresses, with each source. Prints one JSON object and writes it to bench/results/.
Run: `.venv/bin/python bench/geo.py` (`--serve-events 0` skips the server).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def addresses(count: int, seed: int) -> list[str]:
    """Distinct public addresses: 90% IPv4, 10% IPv6 inside the RIRs' big IPv6 blocks."""
    rng = random.Random(seed)
    blocks = [ipaddress.ip_network(n) for n in ("2a00::/12", "2600::/12", "2400::/12")]
    found: set[str] = set()
    while len(found) < count:
        if rng.random() < 0.9:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                rng.getrandbits(32)
            )
        else:
            block = rng.choice(blocks)
            offset = rng.getrandbits(128 - block.prefixlen)
            address = ipaddress.IPv6Address(int(block.network_address) + offset)
        if address.is_global and not address.is_multicast:
            found.add(str(address))
    ordered = sorted(found)  # set order varies between interpreters; this does not
    rng.shuffle(ordered)
    return ordered


def _memory_kb() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    wanted = ("VmRSS", "RssAnon", "RssFile")
    return {
        key: int(match.group(1))
        for key in wanted
        if (match := re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE))
    }


def _rate(locate: Callable[[str], object], sample: list[str]) -> float:
    """Lookups per second of this process's CPU time (the machine may be shared)."""
    started = time.process_time()
    for ip in sample:
        locate(ip)
    return len(sample) / (time.process_time() - started)


def measure(source: str, count: int, seed: int) -> dict[str, object]:
    """In this process: lookups per CPU second with misses (the first touching the mapped
    file, then again once it is mapped) and hits, memory before and after."""
    from footfall.enrich import geo

    sample = addresses(count, seed)
    start = _memory_kb()
    if source == "city":
        available = geo.use_city_database(os.environ.get("FOOTFALL_GEOIP_CITY_PATH"))
        assert available, "no city database: run `make frontend`"
    else:
        geo.use_city_database(ROOT / "no-such-database")
    geo.locate("8.8.8.8")  # opens or loads the data
    geo.locate.cache_clear()
    loaded = _memory_kb()
    cached = sample[: min(count, geo.locate.cache_info().maxsize or count)]
    misses = _rate(geo.locate, cached)
    full = _memory_kb()
    hits = _rate(geo.locate, cached)
    results = [geo.locate(ip) for ip in cached]
    geo.locate.cache_clear()
    for ip in sample:  # every address once more, uncached, to touch the database widely
        geo.locate(ip)
    end = _memory_kb()
    geo.locate.cache_clear()
    warm_misses = _rate(geo.locate, cached)
    return {
        "lookups": len(cached),
        "misses_per_cpu_s": round(misses),
        "warm_misses_per_cpu_s": round(warm_misses),
        "hits_per_cpu_s": round(hits),
        "located": sum(1 for r in results if r.country),
        "with_region": sum(1 for r in results if r.region),
        "with_city": sum(1 for r in results if r.city),
        "data_heap_mb": round((loaded["RssAnon"] - start["RssAnon"]) / 1024, 1),
        "full_cache_heap_mb": round((full["RssAnon"] - loaded["RssAnon"]) / 1024, 1),
        "mapped_file_mb": round((end["RssFile"] - start["RssFile"]) / 1024, 1),
        "rss_growth_mb": round((end["VmRSS"] - start["VmRSS"]) / 1024, 1),
        "countries": [r.country for r in results],
    }


def _process_memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    wanted = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    return {
        key: round(int(match.group(1)) / 1024, 1)
        for key in wanted
        if (match := re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE))
    }


def serve_memory(source: str, events: int, seed: int) -> dict[str, object]:
    """Memory of a `footfall serve` process at rest, then after `events` pageviews from distinct
    addresses (sent through X-Forwarded-For from a trusted proxy, four at a time)."""
    import httpx

    sys.path.insert(0, str(ROOT))
    from tests.support.server import LiveServer

    env = {"FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8", "FOOTFALL_LOG_LEVEL": "warning"}
    if source == "country":
        env["FOOTFALL_GEOIP_CITY_PATH"] = str(ROOT / "no-such-database")
    sample = addresses(events, seed)
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        server = LiveServer(Path(tmp) / "data", env=env)
        with server:
            assert server.process is not None
            pid = server.process.pid
            time.sleep(2)
            at_rest = _process_memory_mb(pid)

            def send(chunk: list[str]) -> None:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    for index, ip in enumerate(chunk):
                        client.post(
                            "/api/event",
                            json={
                                "n": "pageview",
                                "u": f"http://localhost/{index % 50}",
                                "d": "localhost",
                            },
                            headers={"x-forwarded-for": ip, "user-agent": _BROWSER},
                        )

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(send, [sample[i::4] for i in range(4)]))
            time.sleep(2)
            loaded = _process_memory_mb(pid)
    return {"events": events, "at_rest_mb": at_rest, "after_events_mb": loaded}


def _child(source: str, count: int, seed: int) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", source, "--count", str(count)]
    command += ["--seed", str(seed)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = json.loads(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200_000, help="distinct addresses")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-events", type=int, default=20_000, help="0 skips the server")
    parser.add_argument("--child", choices=["city", "country"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.count, args.seed)))
        return
    city = _child("city", args.count, args.seed)
    country = _child("country", args.count, args.seed)
    city_countries, fallback_countries = city.pop("countries"), country.pop("countries")
    assert isinstance(city_countries, list) and isinstance(fallback_countries, list)
    pairs = list(zip(city_countries, fallback_countries, strict=True))
    both = [(a, b) for a, b in pairs if a and b]
    result = {
        "benchmark": "geo",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "city_database": city,
        "country_fallback": country,
        "countries_compared": len(both),
        "countries_agree": round(sum(1 for a, b in both if a == b) / max(len(both), 1), 4),
        "located_only_by_city_database": sum(1 for a, b in pairs if a and not b),
        "located_only_by_fallback": sum(1 for a, b in pairs if b and not a),
    }
    if args.serve_events:
        result["serve_city_database"] = serve_memory("city", args.serve_events, args.seed)
        result["serve_country_fallback"] = serve_memory("country", args.serve_events, args.seed)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"geo-{int(time.time())}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
